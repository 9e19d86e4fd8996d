// k-of-n corroboration: do k independent builders, each with its own trusted key and its own
// builder id, attest this very digest from the same commit? When one attests another digest for
// the same artifact, the two attestations' byproducts name the first action where they part.
import type { KeyObject } from "node:crypto";
import { basename } from "node:path";
import { HbError } from "../base/errors";
import type { AttestationFile } from "./attestation-files";
import { type ActionDifference, firstDifferingAction, readActionOutputs } from "./byproducts";
import { HB_BUILD_TYPE, type ProvenanceStatement } from "./statement";
import { type AttestationVerification, type Expectations, expectedCommit, verifyEnvelopeLine } from "./verify";

export interface CorroborateOptions {
  artifactSha256: string;
  /** the artifact's path: a disagreeing attestation is one whose subject has its name and another digest */
  artifactPath: string;
  files: readonly AttestationFile[];
  /** trusted public keys */
  keys: readonly KeyObject[];
  /**
   * builder id → the key ids trusted for it (a release policy): an attestation counts only when
   * its builder is listed and it is signed by one of that builder's keys. Without it, any trusted
   * key may sign for any builder id.
   */
  builders?: ReadonlyMap<string, readonly string[]>;
  /** how many distinct builders must agree */
  threshold: number;
  expectedBuilderId?: string;
  /** a full git commit id */
  expectedSourceCommit?: string;
  /** count builds of the commit plus uncommitted changes (a policy that does not require a clean tree) */
  allowDirty?: boolean;
  /**
   * count only attestations of this full commit id; unlike `expectedSourceCommit`, an attestation
   * of another commit still verifies (and says which commit it is of), it just does not count
   */
  agreeOn?: string;
}

/** Why an attestation that verified does not count. */
export interface Exclusion {
  reason: "untrusted-builder" | "untrusted-key" | "no-commit" | "dirty" | "other-commit";
  message: string;
}

/** An attestation that verified: signed by a trusted key, about this digest. */
export interface Witness {
  file: string;
  line: number;
  keyId: string;
  builderId: string;
  buildType: string;
  /** the source commit it records, if any */
  commit?: string;
  dirty: boolean;
  statement: ProvenanceStatement;
}

/** How one envelope fared. */
export interface EnvelopeResult {
  file: string;
  line: number;
  verification: AttestationVerification;
  /** a verified envelope that does not count, and why */
  excluded?: Exclusion;
}

/** A trusted builder that attests another digest for the same artifact. */
export interface Disagreement {
  file: string;
  line: number;
  keyId: string;
  builderId: string;
  /** the subject's name, as both attest it */
  subject: string;
  /** the digest this builder got */
  sha256: string;
  commit?: string;
  /** the witness compared with, and the first action in dependency order whose outputs differ */
  comparedWith?: { builderId: string; keyId: string };
  firstDifference?: ActionDifference;
}

export interface Corroboration {
  ok: boolean;
  threshold: number;
  /** the largest set of agreeing witnesses with pairwise distinct keys and builder ids, of one commit */
  agreeing: Witness[];
  /** the commit they agree on, when they record one */
  commit?: string;
  /** every witness that counts, before distinctness */
  witnesses: Witness[];
  envelopes: EnvelopeResult[];
  disagreements: Disagreement[];
}

function recordedCommit(statement: ProvenanceStatement): { commit?: string; dirty: boolean } {
  const dep = (statement.predicate.buildDefinition.resolvedDependencies ?? []).find((d) => typeof d.digest?.gitCommit === "string");
  return { commit: dep?.digest?.gitCommit, dirty: dep?.annotations?.hb_dirty === true };
}

/** Checks every envelope of every file, then finds the largest independent agreeing set. */
export function corroborate(opts: CorroborateOptions): Corroboration {
  if (!Number.isSafeInteger(opts.threshold) || opts.threshold < 1) throw new HbError("USAGE", "the threshold must be an integer >= 1");
  if (opts.keys.length === 0) throw new HbError("USAGE", "no trusted public key to verify the attestations with");
  const expect: Expectations = {
    sha256: opts.artifactSha256,
    publicKeys: opts.keys,
    builderId: opts.expectedBuilderId,
    sourceCommit: expectedCommit(opts.expectedSourceCommit),
    allowDirty: opts.allowDirty,
  };
  const envelopes: EnvelopeResult[] = [];
  const witnesses: Witness[] = [];
  for (const file of opts.files) {
    for (const [i, text] of file.text.split("\n").entries()) {
      if (text.trim() === "") continue;
      const verification = verifyEnvelopeLine(text.trim(), expect);
      const result: EnvelopeResult = { file: file.path, line: i + 1, verification };
      envelopes.push(result);
      if (!verification.ok) continue;
      const builderId = verification.statement.predicate.runDetails.builder.id;
      const { commit, dirty } = recordedCommit(verification.statement);
      result.excluded = exclusion(opts, builderId, verification.keyId, commit, dirty);
      if (result.excluded) continue;
      witnesses.push({
        file: file.path,
        line: i + 1,
        keyId: verification.keyId,
        builderId,
        buildType: verification.statement.predicate.buildDefinition.buildType,
        commit,
        dirty,
        statement: verification.statement,
      });
    }
  }
  const { agreeing, commit } = largestIndependentSet(witnesses);
  return {
    ok: agreeing.length >= opts.threshold,
    threshold: opts.threshold,
    agreeing,
    ...(commit !== undefined ? { commit } : {}),
    witnesses,
    envelopes,
    disagreements: disagreements(envelopes, agreeing, opts.artifactSha256, opts.artifactPath),
  };
}

/** Why a verified attestation does not count, if it does not. */
function exclusion(
  opts: CorroborateOptions,
  builderId: string,
  keyId: string,
  commit: string | undefined,
  dirty: boolean,
): Exclusion | undefined {
  const builder = JSON.stringify(builderId);
  if (opts.builders) {
    const keys = opts.builders.get(builderId);
    if (keys === undefined)
      return { reason: "untrusted-builder", message: `builder ${builder} is not a trusted builder of the release policy` };
    if (!keys.includes(keyId)) {
      return { reason: "untrusted-key", message: `the policy does not trust key ${keyId.slice(0, 16)} for builder ${builder}` };
    }
  }
  if (opts.agreeOn !== undefined && commit !== opts.agreeOn) {
    return { reason: "other-commit", message: `built from ${commit ? `commit ${commit}` : "no recorded commit"}, not ${opts.agreeOn}` };
  }
  // agreeing on a digest means something only for the same sources: a commit, unmodified
  if (opts.threshold > 1 && commit === undefined)
    return { reason: "no-commit", message: "it records no source commit, so it corroborates nothing" };
  if (opts.threshold > 1 && dirty && !opts.allowDirty)
    return { reason: "dirty", message: "it was built from a dirty tree, so it corroborates nothing" };
  return undefined;
}

/**
 * The largest set of witnesses of one commit in which no key and no builder id appears twice: a
 * maximum matching between keys and builder ids (augmenting paths), per commit. A build
 * provenance is preferred over a rebuild for the same (key, builder) pair, so that the
 * comparison of a disagreeing rebuilder starts from the build.
 */
function largestIndependentSet(witnesses: readonly Witness[]): { agreeing: Witness[]; commit?: string } {
  const byCommit = new Map<string | undefined, Witness[]>();
  for (const w of witnesses) byCommit.set(w.commit, [...(byCommit.get(w.commit) ?? []), w]);
  let best: { agreeing: Witness[]; commit?: string } = { agreeing: [] };
  for (const [commit, group] of byCommit) {
    const agreeing = maximumMatching(group);
    if (agreeing.length > best.agreeing.length) best = { agreeing, commit };
  }
  return best;
}

function maximumMatching(group: readonly Witness[]): Witness[] {
  const ordered = [...group].sort((x, y) => Number(y.buildType === HB_BUILD_TYPE) - Number(x.buildType === HB_BUILD_TYPE));
  const edges = new Map<string, Witness[]>();
  for (const w of ordered) edges.set(w.keyId, [...(edges.get(w.keyId) ?? []), w]);
  const matchOfBuilder = new Map<string, Witness>();
  const augment = (keyId: string, visited: Set<string>): boolean => {
    for (const w of edges.get(keyId) ?? []) {
      if (visited.has(w.builderId)) continue;
      visited.add(w.builderId);
      const current = matchOfBuilder.get(w.builderId);
      if (current === undefined || augment(current.keyId, visited)) {
        matchOfBuilder.set(w.builderId, w);
        return true;
      }
    }
    return false;
  };
  for (const keyId of edges.keys()) augment(keyId, new Set());
  return ordered.filter((w) => matchOfBuilder.get(w.builderId) === w);
}

/**
 * Trusted attestations of the same artifact with another digest. The artifact's name is the name
 * an agreeing witness gives its digest; with no witness (a changed artifact), any subject named
 * like the file.
 */
function disagreements(
  envelopes: readonly EnvelopeResult[],
  agreeing: readonly Witness[],
  artifactSha256: string,
  artifactPath: string,
): Disagreement[] {
  const reference = agreeing[0];
  const names = new Set(
    agreeing.flatMap((w) => w.statement.subject.filter((s) => s.digest?.sha256 === artifactSha256).map((s) => s.name ?? "")),
  );
  const sameArtifact = (name: string) => (names.size > 0 ? names.has(name) : basename(name) === basename(artifactPath));
  const out: Disagreement[] = [];
  for (const e of envelopes) {
    const v = e.verification;
    if (v.ok || v.check !== "subject" || !v.signed) continue;
    const subject = v.signed.statement.subject.find(
      (s) => s.name !== undefined && typeof s.digest?.sha256 === "string" && sameArtifact(s.name),
    );
    if (!subject) continue;
    const d: Disagreement = {
      file: e.file,
      line: e.line,
      keyId: v.signed.keyId,
      builderId: v.signed.statement.predicate.runDetails.builder.id,
      subject: subject.name!,
      sha256: subject.digest!.sha256!,
    };
    const { commit } = recordedCommit(v.signed.statement);
    if (commit !== undefined) d.commit = commit;
    if (reference) {
      d.comparedWith = { builderId: reference.builderId, keyId: reference.keyId };
      const difference = firstDifferingAction(
        readActionOutputs(reference.statement.predicate.runDetails.byproducts),
        readActionOutputs(v.signed.statement.predicate.runDetails.byproducts),
      );
      if (difference) d.firstDifference = difference;
    }
    out.push(d);
  }
  return out;
}

const short = (hex: string) => `${hex.slice(0, 12)}…`;

/**
 * One sentence on a disagreement, for a report: who attests what, and where the builds part, with
 * what to run next to find out why.
 */
export function describeDisagreement(d: Disagreement, artifactSha256: string): string {
  const who = `builder ${JSON.stringify(d.builderId)} (key ${d.keyId.slice(0, 16)})`;
  const what = `attests sha256 ${short(d.sha256)} for ${d.subject}, not this file's ${short(artifactSha256)}`;
  if (!d.comparedWith) return `${who} ${what}`;
  const other = `builder ${JSON.stringify(d.comparedWith.builderId)}`;
  const f = d.firstDifference;
  if (!f) return `${who} ${what}; no action recorded by both differs from ${other}'s (one of them records no byproducts)`;
  const outputs = f.outputs.map((o) => `${o.path} ${o.ours ? short(o.ours) : "missing"} vs ${o.theirs ? short(o.theirs) : "missing"}`);
  const why = f.sameKey
    ? "same action key, so the same declared inputs gave other bytes: an undeclared input (a host file, the network) or nondeterminism"
    : "the action keys differ: its inputs, tools or host differ between the builders";
  const next = `hb explain ${f.outputs[0]?.path.replace(/\/$/, "") ?? f.label} on each builder, and hb verify ${f.label}`;
  return (
    `${who} ${what}: the first action whose outputs differ from ${other}'s is ${f.label} (${f.mnemonic})` +
    `${outputs.length > 0 ? `: ${outputs.join(", ")}` : " (a file's mode, or an undeclared file it wrote)"}; ${why}; next: ${next}`
  );
}
