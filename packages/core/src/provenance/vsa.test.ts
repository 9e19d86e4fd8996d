import { describe, expect, it } from "vitest";
import { HbError } from "../base/errors";
import { BYPASSED_LEVEL, HB_GATE_EXTENSION, SLSA_VSA_PREDICATE_TYPE, type VsaInput, artifactPurl, buildVsaStatement } from "./vsa";

const h = (c: string) => c.repeat(64);

function input(overrides: Partial<VsaInput> = {}): VsaInput {
  return {
    subject: { name: "hb-out/app/package.tgz", sha256: h("a") },
    verifierId: "urn:hb:gate:release",
    hbVersion: "0.1.0",
    timeVerified: new Date("2024-05-01T10:00:00Z"),
    resourceUri: artifactPurl("package.tgz", h("a")),
    policyDigest: h("b"),
    inputAttestations: [
      { name: "att/package.tgz.rebuild.0123456789abcdef.intoto.jsonl", sha256: h("d") },
      { name: "hb-out/app/package.tgz.intoto.jsonl", sha256: h("c") },
    ],
    result: "passed",
    sourceCommit: "0".repeat(40),
    checks: [{ check: "corroboration", status: "pass", detail: "2 of 2" }],
    ...overrides,
  };
}

describe("buildVsaStatement", () => {
  it("fills every required field of SLSA VSA v1, the inputs sorted by name", () => {
    const s = buildVsaStatement(input());
    expect(s._type).toBe("https://in-toto.io/Statement/v1");
    expect(s.predicateType).toBe(SLSA_VSA_PREDICATE_TYPE);
    expect(s.subject).toEqual([{ name: "hb-out/app/package.tgz", digest: { sha256: h("a") } }]);
    const { [HB_GATE_EXTENSION]: extension, ...predicate } = s.predicate;
    expect(predicate).toEqual({
      verifier: { id: "urn:hb:gate:release", version: { hb: "0.1.0" } },
      timeVerified: "2024-05-01T10:00:00.000Z",
      resourceUri: `pkg:generic/package.tgz?checksum=sha256:${h("a")}`,
      policy: { uri: `urn:hb:release-policy:sha256:${h("b")}`, digest: { sha256: h("b") } },
      inputAttestations: [
        { name: "att/package.tgz.rebuild.0123456789abcdef.intoto.jsonl", digest: { sha256: h("d") } },
        { name: "hb-out/app/package.tgz.intoto.jsonl", digest: { sha256: h("c") } },
      ],
      verificationResult: "PASSED",
      verifiedLevels: ["SLSA_BUILD_LEVEL_1"],
      slsaVersion: "1.0",
    });
    expect(extension).toEqual({ sourceCommit: "0".repeat(40), checks: [{ check: "corroboration", status: "pass", detail: "2 of 2" }] });
  });

  it("says FAILED for a failed gate, and for a bypass passes with a level no SLSA consumer takes for verified", () => {
    const failed = buildVsaStatement(input({ result: "failed" })).predicate;
    expect([failed.verificationResult, failed.verifiedLevels]).toEqual(["FAILED", ["FAILED"]]);
    const bypass = { id: "INC-1", reason: "CVE", failedChecks: ["corroboration"] };
    const bypassed = buildVsaStatement(input({ result: "bypassed", bypass })).predicate;
    expect([bypassed.verificationResult, bypassed.verifiedLevels]).toEqual(["PASSED", [BYPASSED_LEVEL]]);
    expect(bypassed[HB_GATE_EXTENSION].bypass).toEqual(bypass);
  });

  it("refuses a verifier id that is not a URI, and a digest that is not sha256 hex", () => {
    expect(() => buildVsaStatement(input({ verifierId: "release job" }))).toThrow(HbError);
    expect(() => buildVsaStatement(input({ policyDigest: "abc" }))).toThrow(/policy: 'abc' is not a lowercase sha256/);
  });

  it("names the artifact by a Package URL, its name percent-encoded", () => {
    expect(artifactPurl("@scope pkg.tgz", h("a"))).toBe(`pkg:generic/%40scope%20pkg.tgz?checksum=sha256:${h("a")}`);
  });
});
