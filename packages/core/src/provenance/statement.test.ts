import { describe, expect, it } from "vitest";
import { HbError } from "../base/errors";
import { HB_BUILD_TYPE, type ResourceDescriptor, buildProvenanceStatement, serializeStatement } from "./statement";
import { ARTIFACT_SHA256, BUILDER_ID, SOURCE_COMMIT, sampleInput } from "./testing";

function kind(d: ResourceDescriptor): unknown {
  return d.annotations?.hb_kind;
}

describe("buildProvenanceStatement", () => {
  it("fills the in-toto Statement v1 and SLSA Provenance v1 required fields", () => {
    const s = buildProvenanceStatement(sampleInput());
    expect(Object.keys(s)).toEqual(["_type", "subject", "predicateType", "predicate"]);
    expect(s._type).toBe("https://in-toto.io/Statement/v1");
    expect(s.predicateType).toBe("https://slsa.dev/provenance/v1");
    expect(Object.keys(s.predicate)).toEqual(["buildDefinition", "runDetails"]);
    const { buildDefinition, runDetails } = s.predicate;
    expect(buildDefinition.buildType).toBe(HB_BUILD_TYPE);
    expect(buildDefinition.externalParameters).toEqual({ targets: ["//x:pkg"], config: "hb.config.ts" });
    expect(buildDefinition.internalParameters).toEqual({
      hbVersion: "0.1.0+0123456789abcdef",
      sandbox: "strict",
      sourceDateEpoch: 315532800,
    });
    expect(runDetails).toEqual({
      builder: { id: BUILDER_ID },
      metadata: { invocationId: "build-42", startedOn: "2024-05-01T10:00:00.000Z", finishedOn: "2024-05-01T10:01:30.250Z" },
    });
  });

  it("lists every output as a subject with its sha256, sorted by name", () => {
    const s = buildProvenanceStatement(sampleInput());
    expect(s.subject).toEqual([
      { name: "hb-out/x/index.js", digest: { sha256: "b".repeat(64) } },
      { name: "hb-out/x/pkg.tgz", digest: { sha256: ARTIFACT_SHA256 } },
    ]);
  });

  it("resolves the commit, sources, tools and lockfile pins, in that order, each sorted", () => {
    const deps = buildProvenanceStatement(sampleInput()).predicate.buildDefinition.resolvedDependencies!;
    expect(deps.map(kind)).toEqual(["source-commit", "source", "source", "tool", "lockfile", "lockfile"]);
    expect(deps[0]).toEqual({ digest: { gitCommit: SOURCE_COMMIT }, annotations: { hb_kind: "source-commit", hb_dirty: false } });
    expect(deps.slice(1, 3).map((d) => d.name)).toEqual(["x/BUILD.ts", "x/src/index.ts"]);
    expect(deps[3]).toEqual({
      name: "node_modules/esbuild/bin/esbuild",
      digest: { sha256: "e".repeat(64) },
      annotations: { hb_kind: "tool" },
    });
    expect(deps[4]).toEqual({
      uri: "pkg:npm/%40scope/lib@1.2.3",
      digest: { sha512: "01".repeat(64) },
      annotations: { hb_kind: "lockfile" },
    });
    expect(deps[5]).toEqual({ uri: "pkg:npm/left-pad@1.3.0", digest: { sha1: "02".repeat(20) }, annotations: { hb_kind: "lockfile" } });
  });

  it("records a dirty tree on the commit, and leaves the commit out when there is none", () => {
    const dirty = buildProvenanceStatement(sampleInput({ sourceCommit: { sha: SOURCE_COMMIT, dirty: true } }));
    expect(dirty.predicate.buildDefinition.resolvedDependencies![0]!.annotations).toEqual({ hb_kind: "source-commit", hb_dirty: true });
    const outsideGit = buildProvenanceStatement(sampleInput({ sourceCommit: undefined }));
    const deps = outsideGit.predicate.buildDefinition.resolvedDependencies!;
    expect(deps.some((d) => d.digest?.gitCommit !== undefined)).toBe(false);
    expect(deps[0]!.annotations?.hb_kind).toBe("source");
  });

  it("keeps a pin without integrity as a bare purl, and an empty pin list as none", () => {
    const deps = buildProvenanceStatement(sampleInput({ lockfilePins: [{ name: "linked", version: "file:../linked" }] })).predicate
      .buildDefinition.resolvedDependencies!;
    expect(deps.at(-1)).toEqual({ uri: "pkg:npm/linked@file%3A..%2Flinked", annotations: { hb_kind: "lockfile" } });
    const none = buildProvenanceStatement(sampleInput({ lockfilePins: [] })).predicate.buildDefinition.resolvedDependencies!;
    expect(none.filter((d) => kind(d) === "lockfile")).toEqual([]);
  });

  it("serializes to the same bytes whatever order the input lists come in", () => {
    const a = sampleInput();
    const b = sampleInput({
      subjects: [...a.subjects].reverse(),
      sources: [...a.sources].reverse(),
      lockfilePins: [...a.lockfilePins].reverse(),
    });
    expect(serializeStatement(buildProvenanceStatement(b)).equals(serializeStatement(buildProvenanceStatement(a)))).toBe(true);
  });

  it("drops exact repeats but refuses one name with two digests", () => {
    const a = sampleInput();
    expect(
      buildProvenanceStatement(sampleInput({ sources: [...a.sources, a.sources[0]!] })).predicate.buildDefinition.resolvedDependencies,
    ).toHaveLength(6);
    expect(() =>
      buildProvenanceStatement(sampleInput({ sources: [...a.sources, { path: "x/BUILD.ts", sha256: "f".repeat(64) }] })),
    ).toThrow(/source 'x\/BUILD.ts' is listed twice with different digests/);
  });

  it.each([
    ["a builder id that is not a URI", { builderId: "my laptop" }, /builder id 'my laptop' is not a URI/],
    ["an uppercase scheme", { builderId: "HTTPS://ci.example.com" }, /builder id/],
    ["no subjects", { subjects: [] }, /at least one subject/],
    ["a subject digest that is not sha256 hex", { subjects: [{ name: "o", sha256: "ABC" }] }, /subject o: 'ABC' is not a lowercase sha256/],
    ["an abbreviated commit", { sourceCommit: { sha: "0123456", dirty: false } }, /not a full lowercase git object id/],
    ["an invalid date", { finishedOn: new Date("nope") }, /finishedOn is not a valid date/],
    ["an md5 integrity", { lockfilePins: [{ name: "p", version: "1.0.0", integrity: "md5-AAAA" }] }, /unsupported integrity 'md5-AAAA'/],
  ])("refuses %s with BAD_PROVENANCE", (_, overrides, message) => {
    let error: unknown;
    try {
      buildProvenanceStatement(sampleInput(overrides));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HbError);
    expect((error as HbError).code).toBe("BAD_PROVENANCE");
    expect((error as HbError).message).toMatch(message);
  });
});
