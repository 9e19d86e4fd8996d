// The gate's verdict as a SLSA Verification Summary Attestation: one signed file a downstream
// consumer checks instead of every attestation and the policy behind it.
//   VSA v1: https://slsa.dev/spec/v1.0/verification_summary
import { HbError } from "../base/errors";
import { SHA256_HEX } from "../base/digest";
import { type JsonValue, type ResourceDescriptor, STATEMENT_TYPE, type Statement } from "./statement";

export const SLSA_VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1";

/**
 * hb's extension field of the VSA predicate (the spec lets producers add fields named by URIs):
 * `sourceCommit` (the commit the gate required), `checks` (each policy check: `check`, `status`
 * pass | fail | skip, `detail`) and, when an emergency bypass let a failing artifact through,
 * `bypass` (`id` of the incident, `reason`, `failedChecks`).
 */
export const HB_GATE_EXTENSION = "https://hb.dev/gate/v1";

/**
 * A custom SlsaResult (the spec reserves only the `SLSA_` prefix): the gate passed the artifact by
 * an emergency bypass, not by its checks. A consumer that requires a SLSA level rejects it.
 */
export const BYPASSED_LEVEL = "HB_BYPASSED";

export interface VsaPredicate {
  verifier: { id: string; version?: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: ResourceDescriptor;
  inputAttestations: ResourceDescriptor[];
  verificationResult: "PASSED" | "FAILED";
  verifiedLevels: string[];
  slsaVersion: string;
  [HB_GATE_EXTENSION]: { [key: string]: JsonValue };
}

export type VsaStatement = Statement<VsaPredicate>;

export interface VsaInput {
  /** the artifact as attested (its name) and its content */
  subject: { name: string; sha256: string };
  verifierId: string;
  hbVersion: string;
  timeVerified: Date;
  /** a URI for the artifact (in-toto recommends a Package URL) */
  resourceUri: string;
  policyDigest: string;
  inputAttestations: readonly { name: string; sha256: string }[];
  /** passed: every check passed; bypassed: some failed and an incident let it through */
  result: "passed" | "failed" | "bypassed";
  sourceCommit: string;
  checks: readonly { check: string; status: string; detail: string }[];
  bypass?: { id: string; reason: string; failedChecks: readonly string[] };
}

const URI_SCHEME = /^[a-z][a-z0-9+.-]*:/;

/** `pkg:generic/<name>?checksum=sha256:<hex>`: a Package URL naming the artifact by file name and content. */
export function artifactPurl(name: string, sha256: string): string {
  return `pkg:generic/${encodeURIComponent(name)}?checksum=sha256:${sha256}`;
}

/** The policy is named by its digest: `urn:hb:release-policy:sha256:<hex>`. */
export function policyUri(digest: string): string {
  return `urn:hb:release-policy:sha256:${digest}`;
}

export function buildVsaStatement(input: VsaInput): VsaStatement {
  if (!URI_SCHEME.test(input.verifierId) || !URL.canParse(input.verifierId)) {
    throw new HbError("USAGE", `verifier id '${input.verifierId}' is not a URI with a lowercase scheme (e.g. urn:hb:gate:release)`);
  }
  for (const [what, hex] of [
    ["subject", input.subject.sha256],
    ["policy", input.policyDigest],
    ...input.inputAttestations.map((a) => [a.name, a.sha256] as const),
  ] as const) {
    if (!SHA256_HEX.test(hex)) throw new HbError("BAD_PROVENANCE", `${what}: '${hex}' is not a lowercase sha256 hex digest`);
  }
  const levels = input.result === "passed" ? ["SLSA_BUILD_LEVEL_1"] : input.result === "bypassed" ? [BYPASSED_LEVEL] : ["FAILED"];
  const extension: { [key: string]: JsonValue } = {
    sourceCommit: input.sourceCommit,
    checks: input.checks.map((c) => ({ check: c.check, status: c.status, detail: c.detail })),
  };
  if (input.bypass) extension.bypass = { id: input.bypass.id, reason: input.bypass.reason, failedChecks: [...input.bypass.failedChecks] };
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: input.subject.name, digest: { sha256: input.subject.sha256 } }],
    predicateType: SLSA_VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: input.verifierId, version: { hb: input.hbVersion } },
      timeVerified: input.timeVerified.toISOString(),
      resourceUri: input.resourceUri,
      policy: { uri: policyUri(input.policyDigest), digest: { sha256: input.policyDigest } },
      inputAttestations: [...input.inputAttestations]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((a) => ({ name: a.name, digest: { sha256: a.sha256 } })),
      // a bypass passes the gate, which is what promotion acts on; the levels say it was not verified
      verificationResult: input.result === "failed" ? "FAILED" : "PASSED",
      verifiedLevels: levels,
      slsaVersion: "1.0",
      [HB_GATE_EXTENSION]: extension,
    },
  };
}
