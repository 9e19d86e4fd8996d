import { describe, expect, it } from "vitest";
import { generateKeyPair, keyId } from "../base/keys";
import { attestationBundle } from "./attestation";
import type { AttestationFile } from "./attestation-files";
import { actionOutputs } from "./byproducts";
import { corroborate, describeDisagreement } from "./corroborate";
import { buildProvenanceStatement } from "./statement";
import { ARTIFACT_SHA256, SOURCE_COMMIT, sampleInput } from "./testing";
import type { ProvenanceInput } from "./statement";

const [k1, k2, k3] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
const OTHER_COMMIT = "f".repeat(40);

function actions(hostDigest: string) {
  const action = (label: string, path: string, sha256: string) =>
    actionOutputs(
      { owner: label, mnemonic: "Genrule", outputs: [path], outputDirs: [] },
      "9".repeat(64),
      [{ path, sha256, executable: false }],
      "default",
    );
  return [action("//x:gen", "hb-out/x/gen.txt", "1".repeat(64)), action("//x:host", "hb-out/x/host.txt", hostDigest)];
}

/** One attestation file signed by `key` for `builderId`, of the sample artifact unless told otherwise. */
function file(name: string, key: typeof k1, builderId: string, overrides: Partial<ProvenanceInput> = {}): AttestationFile {
  const text = attestationBundle(
    buildProvenanceStatement(sampleInput({ builderId, actions: actions("2".repeat(64)), ...overrides })),
    key.privateKey,
  );
  return { path: name, text, sha256: "" };
}

const run = (files: AttestationFile[], threshold: number, extra: Partial<Parameters<typeof corroborate>[0]> = {}) =>
  corroborate({
    artifactSha256: ARTIFACT_SHA256,
    artifactPath: "/release/pkg.tgz",
    files,
    keys: [k1.publicKey, k2.publicKey, k3.publicKey],
    threshold,
    ...extra,
  });

describe("corroborate", () => {
  it("counts distinct keys with distinct builder ids of one commit", () => {
    const r = run([file("a", k1, "urn:hb:ci:main"), file("b", k2, "urn:hb:rebuilder:b")], 2);
    expect(r.ok).toBe(true);
    expect(r.commit).toBe(SOURCE_COMMIT);
    expect(r.agreeing.map((w) => [w.builderId, w.keyId])).toEqual([
      ["urn:hb:ci:main", keyId(k1.publicKey)],
      ["urn:hb:rebuilder:b", keyId(k2.publicKey)],
    ]);
  });

  it("counts one key under two builder ids once, and one builder id under two keys once", () => {
    expect(run([file("a", k1, "urn:hb:ci:main"), file("c", k1, "urn:hb:rebuilder:c")], 2).agreeing).toHaveLength(1);
    expect(run([file("a", k1, "urn:hb:ci:main"), file("c", k2, "urn:hb:ci:main")], 2).agreeing).toHaveLength(1);
    // and finds the largest independent set where a greedy choice would not: (k1,A) (k1,B) (k2,A)
    const r = run([file("1", k1, "urn:hb:a"), file("2", k1, "urn:hb:b"), file("3", k2, "urn:hb:a")], 2);
    expect(r.ok).toBe(true);
    expect(new Set(r.agreeing.map((w) => w.keyId)).size).toBe(2);
    expect(new Set(r.agreeing.map((w) => w.builderId)).size).toBe(2);
  });

  it("needs the same clean commit: another commit, a dirty tree or none does not corroborate", () => {
    const a = file("a", k1, "urn:hb:ci:main");
    expect(run([a, file("b", k2, "urn:hb:b", { sourceCommit: { sha: OTHER_COMMIT, dirty: false } })], 2).agreeing).toHaveLength(1);
    const dirty = run([a, file("b", k2, "urn:hb:b", { sourceCommit: { sha: SOURCE_COMMIT, dirty: true } })], 2);
    expect(dirty.ok).toBe(false);
    expect(dirty.envelopes[1]!.excluded?.message).toBe("it was built from a dirty tree, so it corroborates nothing");
    expect(run([a, file("b", k2, "urn:hb:b", { sourceCommit: { sha: SOURCE_COMMIT, dirty: true } })], 2, { allowDirty: true }).ok).toBe(
      true,
    );
    expect(run([a, file("b", k2, "urn:hb:b", { sourceCommit: undefined })], 2).envelopes[1]!.excluded?.message).toMatch(/no source commit/);
  });

  it("with a policy's builders, counts a builder only under the keys listed for it", () => {
    const builders = new Map([
      ["urn:hb:ci:main", [keyId(k1.publicKey)]],
      ["urn:hb:rebuilder:b", [keyId(k2.publicKey)]],
    ]);
    const r = run([file("a", k1, "urn:hb:ci:main"), file("b", k3, "urn:hb:rebuilder:b"), file("c", k2, "urn:hb:other")], 2, { builders });
    expect(r.agreeing).toHaveLength(1);
    expect(r.envelopes[1]!.excluded?.message).toMatch(/^the policy does not trust key [0-9a-f]{16} for builder "urn:hb:rebuilder:b"$/);
    expect(r.envelopes[2]!.excluded?.message).toBe('builder "urn:hb:other" is not a trusted builder of the release policy');
  });

  it("names the first action whose outputs differ when a trusted builder attests another digest for the artifact", () => {
    const theirs = file("b", k2, "urn:hb:rebuilder:b", {
      subjects: [{ name: "hb-out/x/pkg.tgz", sha256: "c".repeat(64) }],
      actions: actions("3".repeat(64)),
    });
    const r = run([file("a", k1, "urn:hb:ci:main"), theirs], 2);
    expect(r.ok).toBe(false);
    expect(r.disagreements).toHaveLength(1);
    const d = r.disagreements[0]!;
    expect(d).toMatchObject({ builderId: "urn:hb:rebuilder:b", subject: "hb-out/x/pkg.tgz", sha256: "c".repeat(64) });
    expect(d.firstDifference).toEqual({
      label: "//x:host",
      mnemonic: "Genrule",
      outputs: [{ path: "hb-out/x/host.txt", ours: "2".repeat(64), theirs: "3".repeat(64) }],
      sameKey: true,
    });
    expect(describeDisagreement(d, ARTIFACT_SHA256)).toContain(
      `the first action whose outputs differ from builder "urn:hb:ci:main"'s is //x:host (Genrule)`,
    );
  });

  it("refuses a threshold below 1", () => {
    expect(() => run([], 0)).toThrow(/threshold must be an integer >= 1/);
  });
});
