// `hb attest verify`: does this attestation, signed by a key we trust, say that this artifact
// came out of the build we expect? Each check has a name, so a failure says which one broke.
import type { KeyObject } from "node:crypto";
import { HbError } from "../base/errors";
import { SHA256_HEX, digestOfFile } from "../base/digest";
import { IN_TOTO_PAYLOAD_TYPE } from "./attestation";
import { shortId, verifyEnvelope } from "../base/dsse";
import { type ProvenanceStatement, type ResourceDescriptor, SLSA_PROVENANCE_PREDICATE_TYPE, STATEMENT_TYPE } from "./statement";
import { isObject, quoteUntrusted } from "../base/untrusted";

export type AttestationCheck = "format" | "signature" | "payload-type" | "subject" | "builder" | "source-commit";

/**
 * The order the checks run in: DSSE's (decode, verify the signature, check the payload type,
 * parse the payload; a malformed envelope fails "format" before "signature"), then what the
 * statement claims. Nothing unsigned is ever interpreted.
 */
export const ATTESTATION_CHECKS: readonly AttestationCheck[] = [
  "signature",
  "payload-type",
  "format",
  "subject",
  "builder",
  "source-commit",
];

export interface CheckResult {
  check: AttestationCheck;
  /** skipped: nothing was expected (no builder id or commit given) */
  outcome: "passed" | "skipped";
  detail: string;
}

export type AttestationVerification =
  | { ok: true; statement: ProvenanceStatement; keyId: string; checks: CheckResult[] }
  | {
      ok: false;
      check: AttestationCheck;
      message: string;
      checks: CheckResult[];
      /** when the failed check comes after the format check: the statement a trusted key signed */
      signed?: { statement: ProvenanceStatement; keyId: string };
    };

export type VerifyAttestationOptions = (
  { artifactPath: string; artifactDigest?: never } | { artifactDigest: string; artifactPath?: never }
) & {
  /** the `.intoto.jsonl` content: one envelope per line; any line may be the one that verifies */
  envelopeText: string;
  /** trusted keys; a signature by any of them is accepted */
  publicKeys: readonly KeyObject[];
  expectedBuilderId?: string;
  /** a full git commit id */
  expectedSourceCommit?: string;
};

/** The media types in-toto allows for an envelope holding a Statement (envelope spec, payloadType). */
const STATEMENT_PAYLOAD_TYPES = [IN_TOTO_PAYLOAD_TYPE, "application/vnd.in-toto.provenance+json"];

/** What one envelope is checked against. */
export interface Expectations {
  /** the artifact's sha256 */
  sha256: string;
  publicKeys: readonly KeyObject[];
  builderId?: string;
  /** a full, lowercase git commit id */
  sourceCommit?: string;
  /** a build of `sourceCommit` plus uncommitted changes passes (the check's detail says so) */
  allowDirty?: boolean;
}

/**
 * Verifies an attestation bundle against an artifact. Lines that do not verify are passed over,
 * as the bundle spec requires; when none does, the answer is the failure of the line that got
 * furthest, so a user sees the check that stopped the attestation closest to theirs.
 */
export function verifyAttestation(opts: VerifyAttestationOptions): AttestationVerification {
  if (opts.publicKeys.length === 0) throw new HbError("USAGE", "no trusted public key to verify the attestation with");
  const expect: Expectations = {
    sha256: artifactSha256(opts),
    publicKeys: opts.publicKeys,
    builderId: opts.expectedBuilderId,
    sourceCommit: expectedCommit(opts.expectedSourceCommit),
  };
  const lines = opts.envelopeText
    .split("\n")
    .map((text, i) => ({ text: text.trim(), number: i + 1 }))
    .filter((l) => l.text !== "");
  if (lines.length === 0) return { ok: false, check: "format", message: "the attestation holds no envelope (it is empty)", checks: [] };
  let best: Extract<AttestationVerification, { ok: false }> | undefined;
  for (const line of lines) {
    const result = verifyEnvelopeLine(line.text, expect);
    if (result.ok) return result;
    if (best === undefined || result.checks.length > best.checks.length) {
      best = lines.length > 1 ? { ...result, message: `line ${line.number}: ${result.message}` } : result;
    }
  }
  return best!;
}

function artifactSha256(opts: VerifyAttestationOptions): string {
  if (opts.artifactDigest !== undefined) {
    if (!SHA256_HEX.test(opts.artifactDigest))
      throw new HbError("USAGE", `artifact digest '${opts.artifactDigest}' is not a lowercase sha256 hex digest`);
    return opts.artifactDigest;
  }
  return artifactSha256OfFile(opts.artifactPath);
}

/** The sha256 of an artifact file; one that cannot be read cannot be verified (exit 2). */
export function artifactSha256OfFile(path: string): string {
  try {
    return digestOfFile(path).hash;
  } catch (e) {
    throw new HbError("UNREADABLE_FILE", `cannot read artifact ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: "name the artifact file the attestation is about",
    });
  }
}

/** A `--source-commit` as given: a full commit id in any case, lowercased; an abbreviation is refused. */
export function expectedCommit(commit: string | undefined): string | undefined {
  if (commit === undefined) return undefined;
  const sha = commit.toLowerCase();
  // an abbreviated id would let a different commit with the same prefix pass
  if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(sha)) {
    throw new HbError("USAGE", `expected source commit '${commit}' is not a full commit id (40 or 64 hex digits)`, {
      hint: "get it with: git rev-parse <rev>",
    });
  }
  return sha;
}

/** Verifies one envelope (one line of a bundle): DSSE first, then what its statement claims. */
export function verifyEnvelopeLine(line: string, expect: Expectations): AttestationVerification {
  const checks: CheckResult[] = [];
  let signed: { statement: ProvenanceStatement; keyId: string } | undefined;
  const fail = (check: AttestationCheck, message: string): AttestationVerification => ({
    ok: false,
    check,
    message,
    checks,
    ...(signed ? { signed } : {}),
  });
  const pass = (check: AttestationCheck, detail: string) => checks.push({ check, outcome: "passed", detail });
  const skip = (check: AttestationCheck, detail: string) => checks.push({ check, outcome: "skipped", detail });

  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return fail("format", `not a JSON envelope: ${(e as Error).message}`);
  }
  const envelope = verifyEnvelope(value, expect.publicKeys);
  if (!envelope.ok) return fail(envelope.reason, envelope.message);
  pass("signature", `signed by trusted key ${shortId(envelope.keyId)}`);

  if (!STATEMENT_PAYLOAD_TYPES.includes(envelope.payloadType)) {
    return fail(
      "payload-type",
      `payload type is ${quoteUntrusted(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}: the envelope holds something other than an in-toto statement`,
    );
  }
  pass("payload-type", envelope.payloadType);

  const statement = parseStatement(envelope.payload);
  if (typeof statement === "string") return fail("format", statement);
  pass("format", `in-toto Statement v1 with a SLSA Provenance v1 predicate, ${statement.subject.length} subject(s)`);
  signed = { statement, keyId: envelope.keyId };

  const subject = statement.subject.find((s) => s.digest?.sha256 === expect.sha256);
  if (subject === undefined) {
    const listed = statement.subject
      .slice(0, 5)
      .map((s) => `${quoteUntrusted(s.name ?? "_")} sha256 ${quoteUntrusted(s.digest?.sha256 ?? "-", 16)}`);
    if (statement.subject.length > 5) listed.push(`${statement.subject.length - 5} more`);
    return fail(
      "subject",
      `the artifact (sha256 ${expect.sha256}) is not a subject of this attestation (subjects: ${listed.join(", ")}): it changed after it was attested, or the attestation is about another artifact`,
    );
  }
  pass("subject", `artifact sha256 ${shortId(expect.sha256)}… is subject ${quoteUntrusted(subject.name ?? "_", 80)}`);

  const builderId = statement.predicate.runDetails.builder.id;
  if (expect.builderId === undefined) {
    skip("builder", `built by ${quoteUntrusted(builderId, 80)} (no expected builder id given)`);
  } else if (builderId !== expect.builderId) {
    return fail("builder", `built by ${quoteUntrusted(builderId, 80)}, expected ${quoteUntrusted(expect.builderId, 80)}`);
  } else {
    pass("builder", `built by ${quoteUntrusted(builderId, 80)}`);
  }

  const commits = (statement.predicate.buildDefinition.resolvedDependencies ?? []).filter((d) => typeof d.digest?.gitCommit === "string");
  if (expect.sourceCommit === undefined) {
    const dirty = commits[0]?.annotations?.hb_dirty === true ? " plus uncommitted changes (dirty working tree)" : "";
    const recorded =
      commits.length === 0 ? "no source commit recorded" : `source commit ${quoteUntrusted(commits[0]!.digest!.gitCommit, 64)}${dirty}`;
    skip("source-commit", `${recorded} (no expected commit given)`);
  } else {
    if (commits.length === 0)
      return fail("source-commit", "the attestation records no source commit: the build ran outside a git checkout");
    const source = commits.find((d) => d.digest!.gitCommit === expect.sourceCommit);
    if (source === undefined) {
      const recorded = commits.map((d) => quoteUntrusted(d.digest!.gitCommit, 64)).join(", ");
      return fail("source-commit", `built from commit ${recorded}, expected ${expect.sourceCommit}`);
    }
    if (source.annotations?.hb_dirty === true && !expect.allowDirty) {
      return fail(
        "source-commit",
        `built from commit ${expect.sourceCommit} plus uncommitted changes (dirty working tree): the commit alone is not what was built`,
      );
    }
    const dirty = source.annotations?.hb_dirty === true ? " plus uncommitted changes (dirty working tree)" : "";
    pass("source-commit", `built from commit ${expect.sourceCommit}${dirty}`);
  }
  return { ok: true, statement, keyId: envelope.keyId, checks };
}

/**
 * Checks that the signed payload has the shape the types promise; the in-toto parsing rules ask
 * consumers to ignore unknown fields and to read null as unset (which is dropped here).
 */
function parseStatement(payload: Buffer): ProvenanceStatement | string {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (e) {
    return `the payload is not UTF-8 JSON: ${(e as Error).message}`;
  }
  if (!isObject(value)) return "the payload is not a JSON object";
  if (value._type !== STATEMENT_TYPE) return `the payload's _type is ${quoteUntrusted(value._type)}, not ${STATEMENT_TYPE}`;
  if (value.predicateType !== SLSA_PROVENANCE_PREDICATE_TYPE) {
    return `the statement's predicateType is ${quoteUntrusted(value.predicateType)}, not ${SLSA_PROVENANCE_PREDICATE_TYPE}`;
  }
  if (!Array.isArray(value.subject) || value.subject.length === 0) return "the statement has no subject list";
  for (const [i, s] of value.subject.entries()) {
    const problem = descriptorProblem(s) ?? (isObject(s) && isObject(s.digest) ? undefined : "has no digest");
    if (problem) return `subject[${i}] ${problem}`;
  }
  const predicate = value.predicate;
  if (!isObject(predicate)) return "the statement has no predicate object";
  const { buildDefinition, runDetails } = predicate;
  if (!isObject(buildDefinition) || typeof buildDefinition.buildType !== "string" || !isObject(buildDefinition.externalParameters)) {
    return "predicate.buildDefinition needs a string buildType and an externalParameters object";
  }
  if (!optional(buildDefinition, "internalParameters", isObject)) return "predicate.buildDefinition.internalParameters is not an object";
  if (!optional(buildDefinition, "resolvedDependencies", Array.isArray))
    return "predicate.buildDefinition.resolvedDependencies is not an array";
  for (const [i, d] of ((buildDefinition.resolvedDependencies ?? []) as unknown[]).entries()) {
    const problem = descriptorProblem(d);
    if (problem) return `resolvedDependencies[${i}] ${problem}`;
  }
  if (!isObject(runDetails) || !isObject(runDetails.builder) || typeof runDetails.builder.id !== "string") {
    return "predicate.runDetails.builder has no string id";
  }
  if (!optional(runDetails, "metadata", isObject)) return "predicate.runDetails.metadata is not an object";
  if (isObject(runDetails.metadata)) {
    for (const field of ["invocationId", "startedOn", "finishedOn"]) {
      if (!optional(runDetails.metadata, field, isString)) return `predicate.runDetails.metadata.${field} is not a string`;
    }
  }
  return value as unknown as ProvenanceStatement;
}

function isString(v: unknown): v is string {
  return typeof v === "string";
}

/** Whether `obj[key]` is unset or passes `check`; a null is unset, and is deleted. */
function optional(obj: Record<string, unknown>, key: string, check: (v: unknown) => boolean): boolean {
  if (obj[key] === null) delete obj[key];
  return obj[key] === undefined || check(obj[key]);
}

/** What is wrong with an untrusted ResourceDescriptor, if anything (only the fields hb reads). */
function descriptorProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "is not an object";
  for (const field of ["name", "uri"] satisfies (keyof ResourceDescriptor)[]) {
    if (!optional(value, field, isString)) return `has a ${field} that is not a string`;
  }
  if (!optional(value, "digest", (d) => isObject(d) && Object.values(d).every(isString)))
    return "has a digest that is not a map of strings";
  if (!optional(value, "annotations", isObject)) return "has annotations that are not an object";
  return undefined;
}
