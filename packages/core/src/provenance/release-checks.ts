// The release policy's checks of one artifact, from what its attestations say: each check passes,
// fails (saying what to do) or is skipped because the policy does not ask for it. Plain data, so
// a run record can keep it as it is.
import type { EffectivePolicy } from "../workspace/release-config";
import { readActionOutputs } from "./byproducts";
import { type Corroboration, type EnvelopeResult, type Witness, describeDisagreement } from "./corroborate";
import { HB_BUILD_TYPE, type ProvenanceStatement } from "./statement";

export type GateCheckName =
  "provenance" | "source-commit" | "clean-tree" | "pinned-inputs" | "sandboxed" | "strict" | "hermetic-violations" | "corroboration";

/** In the order they are reported. */
export const GATE_CHECKS: readonly GateCheckName[] = [
  "provenance",
  "source-commit",
  "clean-tree",
  "pinned-inputs",
  "sandboxed",
  "strict",
  "hermetic-violations",
  "corroboration",
];

export interface GateCheck {
  check: GateCheckName;
  /** skip: the policy does not ask for it */
  status: "pass" | "fail" | "skip";
  detail: string;
  /** for a failure: what to do */
  fix?: string;
}

/** What `hb build --audit --report FILE` found, as far as the gate reads it. */
export interface AuditFacts {
  file: string;
  hermeticViolations: number;
  /** sha256 of every output the audited build reported */
  outputs: readonly string[];
  /** what each action reached: `<label> read <path>`, `<label> connected to <address>` */
  findings: readonly string[];
}

export interface ReleaseCheckInput {
  /** the artifact as the user named it */
  artifact: string;
  sha256: string;
  policy: EffectivePolicy;
  /** the full commit id the release is of */
  sourceCommit: string;
  /** over the artifact's attestations, with the policy's builders, agreeing on `sourceCommit`, dirty trees counted */
  corroboration: Corroboration;
  audit?: AuditFacts;
  /** the release targets (or the artifact's), to say what to run */
  targets: readonly string[];
}

const short = (hex: string) => `${hex.slice(0, 12)}…`;

/** The build provenance the facts are read from: of this digest, by a builder the policy trusts with that key. */
function chooseProvenance(c: Corroboration): { envelope: EnvelopeResult; statement: ProvenanceStatement; keyId: string } | undefined {
  const trusted = (e: EnvelopeResult) => e.excluded === undefined || !["untrusted-builder", "untrusted-key"].includes(e.excluded.reason);
  const candidates = c.envelopes.filter(
    (e) => e.verification.ok && e.verification.statement.predicate.buildDefinition.buildType === HB_BUILD_TYPE && trusted(e),
  );
  const best = candidates.find((e) => e.excluded === undefined) ?? candidates[0];
  if (!best || !best.verification.ok) return undefined;
  return { envelope: best, statement: best.verification.statement, keyId: best.verification.keyId };
}

function commitOf(statement: ProvenanceStatement): { commit?: string; dirty: boolean } {
  const dep = (statement.predicate.buildDefinition.resolvedDependencies ?? []).find((d) => typeof d.digest?.gitCommit === "string");
  return { commit: dep?.digest?.gitCommit, dirty: dep?.annotations?.hb_dirty === true };
}

/** Why no trusted build provenance covers the artifact, in the words most useful to whoever reads it. */
function whyNoProvenance(i: ReleaseCheckInput): string {
  const { artifact, corroboration: c } = i;
  if (c.envelopes.length === 0) return `no attestation covers ${artifact}: none beside it and none given with --attestation`;
  const differs = c.disagreements[0];
  if (differs) return `${artifact} (sha256 ${short(i.sha256)}) is not what was attested: ${describeDisagreement(differs, i.sha256)}`;
  const untrusted = c.envelopes.find(
    (e) => e.verification.ok && e.verification.statement.predicate.buildDefinition.buildType === HB_BUILD_TYPE && e.excluded,
  );
  if (untrusted?.excluded) return `the provenance of ${artifact} does not count: ${untrusted.excluded.message}`;
  const unsigned = c.envelopes.filter((e) => !e.verification.ok && e.verification.check === "signature").length;
  const verified = c.envelopes.filter((e) => e.verification.ok).length;
  return (
    `no provenance of ${artifact} (sha256 ${short(i.sha256)}) from a builder of release.policy.builders: ${c.envelopes.length} attestation(s) read, ` +
    `${unsigned} signed by no key the policy lists, ${verified} verified but none an hb build provenance of this digest`
  );
}

/** Every check of the policy, in GATE_CHECKS order. */
export function releaseChecks(i: ReleaseCheckInput): GateCheck[] {
  const { artifact, policy } = i;
  const targets = i.targets.join(" ");
  const p = chooseProvenance(i.corroboration);
  const none = p ? undefined : whyNoProvenance(i);
  const checks: GateCheck[] = [];
  const add = (check: GateCheckName, status: GateCheck["status"], detail: string, fix?: string) =>
    checks.push({ check, status, detail, ...(status === "fail" && fix ? { fix } : {}) });
  const signFix = `sign it in the build job: hb build ${targets} --provenance --signing-key KEY --builder-id ID, with ID and KEY's public half in release.policy.builders`;

  // provenance
  if (!p) add("provenance", "fail", none!, signFix);
  else {
    const builder = p.statement.predicate.runDetails.builder.id;
    add(
      "provenance",
      "pass",
      `${artifact} is attested by builder ${JSON.stringify(builder)} (key ${p.keyId.slice(0, 16)}): ${p.envelope.file}`,
    );
  }
  const missing = (what: string) => `no trusted provenance of ${artifact} records ${what}`;
  const recorded = p ? commitOf(p.statement) : { dirty: false };

  // source-commit
  if (!p) add("source-commit", "fail", missing("its source commit"), signFix);
  else if (recorded.commit === i.sourceCommit) add("source-commit", "pass", `built from commit ${i.sourceCommit}`);
  else {
    add(
      "source-commit",
      "fail",
      `${artifact} was built from ${recorded.commit ? `commit ${recorded.commit}` : "no recorded commit (outside git)"}, not ${i.sourceCommit}`,
      `promote the artifact built from ${i.sourceCommit}, or gate the commit this one was built from`,
    );
  }

  // clean-tree: the provenance and every builder that corroborates it
  if (!policy.cleanTree) add("clean-tree", "skip", "the policy allows a dirty tree (cleanTree: false)");
  else if (!p) add("clean-tree", "fail", missing("whether its tree was clean"), signFix);
  else {
    const dirty: Witness[] = i.corroboration.agreeing.filter((w) => w.dirty);
    if (recorded.dirty || dirty.length > 0) {
      const who = recorded.dirty ? "its provenance" : dirty.map((w) => JSON.stringify(w.builderId)).join(", ");
      add(
        "clean-tree",
        "fail",
        `${artifact} was built from commit ${recorded.commit ?? "?"} plus uncommitted changes: ${who} records a dirty tree (--allow-dirty)`,
        "build from a clean checkout of the commit (no --allow-dirty)",
      );
    } else add("clean-tree", "pass", "built from a clean tree");
  }

  // pinned-inputs
  if (!policy.pinnedInputs) add("pinned-inputs", "skip", "the policy allows unpinned packages (pinnedInputs: false)");
  else if (!p) add("pinned-inputs", "fail", missing("its external inputs"), signFix);
  else {
    const pins = (p!.statement.predicate.buildDefinition.resolvedDependencies ?? []).filter((d) => d.annotations?.hb_kind === "lockfile");
    const unpinned = pins.filter((d) => d.digest === undefined || Object.keys(d.digest).length === 0).map((d) => d.uri ?? d.name ?? "?");
    if (unpinned.length > 0) {
      add(
        "pinned-inputs",
        "fail",
        `${artifact} was built with ${unpinned.length} package(s) pinned by nothing reviewed (no integrity in the lockfile, none in hb.lock.json as the build started): ${unpinned.slice(0, 5).join(", ")}${unpinned.length > 5 ? ", ..." : ""}`,
        "commit the pins hb.lock.json got on first fetch (hb fetch writes them), after review, and build again",
      );
    } else
      add(
        "pinned-inputs",
        "pass",
        pins.length === 0 ? "no lockfile packages in the closure" : `all ${pins.length} lockfile packages pinned by integrity`,
      );
  }

  // sandboxed and strict read the same facts: the build's mode and each command's
  const actions = p ? readActionOutputs(p.statement.predicate.runDetails.byproducts) : [];
  const commands = actions.filter((a) => a.sandbox !== undefined);
  const mode = p ? String(p.statement.predicate.buildDefinition.internalParameters?.sandbox ?? "unknown") : "unknown";
  const noActions = `the provenance of ${artifact} records no actions (signed by an hb older than its byproducts), so it cannot show how each ran`;
  if (!policy.sandboxed) add("sandboxed", "skip", "the policy allows unsandboxed actions (sandboxed: false)");
  else if (!p) add("sandboxed", "fail", missing("how its actions ran"), signFix);
  else if (actions.length === 0) add("sandboxed", "fail", noActions, signFix);
  else {
    const loose = commands.filter((a) => a.sandbox === "none").map((a) => a.label);
    if (mode === "none" || loose.length > 0) {
      add(
        "sandboxed",
        "fail",
        `${artifact} was built with ${loose.length > 0 ? `unsandboxed actions: ${[...new Set(loose)].join(", ")} (tag no-sandbox, --allow-unsandboxed)` : "--sandbox=none"}`,
        "build every action sandboxed: drop the no-sandbox tag (or --allow-unsandboxed) for release targets",
      );
    } else add("sandboxed", "pass", `all ${commands.length} commands ran sandboxed (${mode})`);
  }

  if (!policy.strict) add("strict", "skip", "the policy does not require --sandbox=strict (strict: false)");
  else if (!p) add("strict", "fail", missing("its sandbox mode"), signFix);
  else if (actions.length === 0) add("strict", "fail", noActions, signFix);
  else {
    const lax = commands.filter((a) => a.sandbox !== "strict").map((a) => a.label);
    if (mode !== "strict" || lax.length > 0) {
      add(
        "strict",
        "fail",
        mode !== "strict"
          ? `${artifact} was built with --sandbox=${mode}; the policy requires strict`
          : `${artifact} was built with --sandbox=strict, but not ${[...new Set(lax)].slice(0, 5).join(", ")}; the policy requires strict for every action`,
        `build with --sandbox=strict (or sandbox: "strict" in hb.config.ts): hb build ${targets} --sandbox=strict --provenance ...`,
      );
    } else add("strict", "pass", `all ${commands.length} commands ran under --sandbox=strict`);
  }

  // hermetic-violations, against the audit of a build of this very digest
  const max = policy.maxHermeticViolations;
  const auditFix = `audit the release build and pass its report: hb build ${targets} --audit --report audit.json; hb gate ... --audit-report audit.json`;
  if (max === undefined) add("hermetic-violations", "skip", "the policy sets no maxHermeticViolations");
  else if (!i.audit)
    add(
      "hermetic-violations",
      "fail",
      `the policy allows at most ${max} hermeticity violation(s) in the build of ${artifact}, and no --audit-report was given`,
      auditFix,
    );
  else if (!i.audit.outputs.includes(i.sha256)) {
    add(
      "hermetic-violations",
      "fail",
      `the audit report ${i.audit.file} is of another build: ${artifact} (sha256 ${short(i.sha256)}) is not among its outputs`,
      auditFix,
    );
  } else if (i.audit.hermeticViolations > max) {
    const seen = i.audit.findings.slice(0, 3).join("; ");
    add(
      "hermetic-violations",
      "fail",
      `the audited build of ${artifact} has ${i.audit.hermeticViolations} hermeticity violation(s), the policy allows ${max}: ${seen}${i.audit.findings.length > 3 ? "; ..." : ""}`,
      "declare what those actions read (srcs, tools, toolchains) or stop them reaching it; then build and audit again",
    );
  } else
    add(
      "hermetic-violations",
      "pass",
      `${i.audit.hermeticViolations} hermeticity violation(s) in the audited build (at most ${max}): ${i.audit.file}`,
    );

  // corroboration
  const c = i.corroboration;
  const who = c.agreeing.map((w) => `${JSON.stringify(w.builderId)} (key ${w.keyId.slice(0, 16)})`).join(", ");
  if (c.ok)
    add(
      "corroboration",
      "pass",
      `${c.agreeing.length} independent trusted builder(s) attest this digest from commit ${i.sourceCommit}, ${policy.corroboration} required: ${who}`,
    );
  else {
    const disagree = c.disagreements.map((d) => describeDisagreement(d, i.sha256));
    add(
      "corroboration",
      "fail",
      `${c.agreeing.length} of the ${policy.corroboration} independent trusted builders required attest ${artifact} (sha256 ${short(i.sha256)}) from commit ${i.sourceCommit}${who ? `: ${who}` : ""}${disagree.length > 0 ? `; ${disagree.join("; ")}` : ""}`,
      `rebuild independently on another runner with another key: hb verify ${targets} --attest --signing-key KEY --builder-id ID, then pass its attestations with --attestation DIR`,
    );
  }
  return checks;
}
