import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../base/keys";
import { HbError } from "../base/errors";
import { sha256Hex } from "../base/digest";
import { IN_TOTO_PAYLOAD_TYPE, attestationBundle } from "./attestation";
import { type Envelope, serializeEnvelope, signEnvelope } from "../base/dsse";
import { buildProvenanceStatement, serializeStatement } from "./statement";
import { flipByte } from "../base/testing";
import { ARTIFACT_SHA256, BUILDER_ID, SOURCE_COMMIT, sampleInput } from "./testing";
import { type VerifyAttestationOptions, verifyAttestation } from "./verify";

const signer = generateKeyPair();
const stranger = generateKeyPair();
const bundle = attestationBundle(buildProvenanceStatement(sampleInput()), signer.privateKey);
const dir = mkdtempSync(join(tmpdir(), "hb-attest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(overrides: Partial<VerifyAttestationOptions> = {}) {
  return verifyAttestation({
    artifactDigest: ARTIFACT_SHA256,
    envelopeText: bundle,
    publicKeys: [signer.publicKey],
    ...overrides,
  } as VerifyAttestationOptions);
}

/** The bundle's envelope with `edit` applied to it. */
function edited(edit: (e: Envelope) => void): string {
  const envelope = JSON.parse(bundle) as Envelope;
  edit(envelope);
  return serializeEnvelope(envelope);
}

function signedPayload(payload: string, payloadType = IN_TOTO_PAYLOAD_TYPE): string {
  return serializeEnvelope(signEnvelope(Buffer.from(payload), payloadType, signer.privateKey));
}

describe("verifyAttestation", () => {
  it("accepts a genuine attestation, reporting each check in order", () => {
    const r = verify();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.checks.map((c) => [c.check, c.outcome])).toEqual([
      ["signature", "passed"],
      ["payload-type", "passed"],
      ["format", "passed"],
      ["subject", "passed"],
      ["builder", "skipped"],
      ["source-commit", "skipped"],
    ]);
    expect(r.checks[3]!.detail).toContain('"hb-out/x/pkg.tgz"');
    expect(r.statement.predicate.runDetails.builder.id).toBe(BUILDER_ID);
  });

  it("checks the expected builder id and source commit when given (any case of hex)", () => {
    const r = verify({ expectedBuilderId: BUILDER_ID, expectedSourceCommit: SOURCE_COMMIT.toUpperCase() });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.checks.every((c) => c.outcome === "passed")).toBe(true);
  });

  it("hashes the artifact file, and fails the subject check when one byte of it changes", () => {
    const artifact = join(dir, "pkg.tgz");
    writeFileSync(artifact, "the package bytes");
    const text = attestationBundle(
      buildProvenanceStatement(sampleInput({ subjects: [{ name: "hb-out/x/pkg.tgz", sha256: sha256Hex("the package bytes") }] })),
      signer.privateKey,
    );
    expect(verify({ artifactDigest: undefined, artifactPath: artifact, envelopeText: text }).ok).toBe(true);
    writeFileSync(artifact, "the package bytez");
    const r = verify({ artifactDigest: undefined, artifactPath: artifact, envelopeText: text });
    expect(r).toMatchObject({ ok: false, check: "subject" });
    if (!r.ok) {
      expect(r.message).toContain(`the artifact (sha256 ${sha256Hex("the package bytez")}) is not a subject`);
      expect(r.message).toContain("it changed after it was attested");
    }
  });

  it("fails the signature check when one byte of the payload changes", () => {
    const r = verify({ envelopeText: edited((e) => (e.payload = flipByte(e.payload, 40))) });
    expect(r).toMatchObject({ ok: false, check: "signature", checks: [] });
  });

  it("fails the signature check when one byte of the signature changes", () => {
    const r = verify({ envelopeText: edited((e) => (e.signatures[0]!.sig = flipByte(e.signatures[0]!.sig, 0))) });
    expect(r).toMatchObject({ ok: false, check: "signature" });
  });

  it("fails the signature check with a wrong key, saying the signer is not trusted", () => {
    const r = verify({ publicKeys: [stranger.publicKey] });
    expect(r).toMatchObject({ ok: false, check: "signature" });
    if (!r.ok) expect(r.message).toMatch(/signed by key [0-9a-f]{16}, which is not trusted/);
  });

  it("fails the payload-type check for a signed envelope that holds something else", () => {
    const r = verify({
      envelopeText: signedPayload(serializeStatement(buildProvenanceStatement(sampleInput())).toString(), "application/json"),
    });
    expect(r).toMatchObject({ ok: false, check: "payload-type" });
    if (!r.ok) expect(r.message).toContain('payload type is "application/json"');
  });

  it.each([
    ["a line that is not JSON", "{not json", /not a JSON envelope/],
    ["an envelope missing its payload", '{"payloadType":"x","signatures":[]}', /no string 'payload'/],
    ["a signed payload that is not JSON", signedPayload("hello"), /not UTF-8 JSON/],
    [
      "a signed payload with another predicate",
      signedPayload('{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://spdx.dev/Document","subject":[]}'),
      /predicateType is "https:\/\/spdx.dev\/Document"/,
    ],
    [
      "a signed statement without subjects",
      signedPayload('{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[]}'),
      /no subject list/,
    ],
    ["an empty file", "\n\n", /holds no envelope/],
  ])("fails the format check for %s", (_, text, message) => {
    const r = verify({ envelopeText: text });
    expect(r).toMatchObject({ ok: false, check: "format" });
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it("fails the builder check, naming both ids", () => {
    const r = verify({ expectedBuilderId: "https://release.example.com/builder" });
    expect(r).toMatchObject({ ok: false, check: "builder" });
    if (!r.ok) expect(r.message).toBe(`built by "${BUILDER_ID}", expected "https://release.example.com/builder"`);
  });

  it("fails the source-commit check for another commit, a dirty tree, or no commit at all", () => {
    const other = "f".repeat(40);
    const wrong = verify({ expectedSourceCommit: other });
    expect(wrong).toMatchObject({ ok: false, check: "source-commit" });
    if (!wrong.ok) expect(wrong.message).toBe(`built from commit "${SOURCE_COMMIT}", expected ${other}`);

    const dirty = attestationBundle(
      buildProvenanceStatement(sampleInput({ sourceCommit: { sha: SOURCE_COMMIT, dirty: true } })),
      signer.privateKey,
    );
    const r = verify({ envelopeText: dirty, expectedSourceCommit: SOURCE_COMMIT });
    expect(r).toMatchObject({ ok: false, check: "source-commit" });
    if (!r.ok) expect(r.message).toContain("plus uncommitted changes");

    const none = attestationBundle(buildProvenanceStatement(sampleInput({ sourceCommit: undefined })), signer.privateKey);
    expect(verify({ envelopeText: none, expectedSourceCommit: SOURCE_COMMIT })).toMatchObject({ ok: false, check: "source-commit" });
  });

  it("accepts a bundle where any one line verifies", () => {
    const otherArtifact = attestationBundle(
      buildProvenanceStatement(sampleInput({ subjects: [{ name: "o", sha256: "9".repeat(64) }] })),
      signer.privateKey,
    );
    const text = `garbage\n${otherArtifact}\r\n${bundle}`;
    expect(verify({ envelopeText: text }).ok).toBe(true);
  });

  it("when no line verifies, reports the line that got furthest", () => {
    const otherArtifact = attestationBundle(
      buildProvenanceStatement(sampleInput({ subjects: [{ name: "o", sha256: "9".repeat(64) }] })),
      signer.privateKey,
    );
    const r = verify({ envelopeText: `garbage\n${otherArtifact}` });
    expect(r).toMatchObject({ ok: false, check: "subject" });
    if (!r.ok) expect(r.message).toMatch(/^line 2: /);
  });

  it("refuses an abbreviated expected commit, an unreadable artifact and no keys as usage errors", () => {
    expect(() => verify({ expectedSourceCommit: "0123456" })).toThrow(HbError);
    expect(() => verify({ expectedSourceCommit: "0123456" })).toThrow(/not a full commit id/);
    expect(() => verify({ artifactDigest: undefined, artifactPath: join(dir, "missing.tgz") })).toThrow(
      /cannot read artifact .*missing.tgz: ENOENT/,
    );
    expect(() => verify({ publicKeys: [] })).toThrow(/no trusted public key/);
  });
});
