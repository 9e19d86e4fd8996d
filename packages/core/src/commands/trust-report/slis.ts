import { CORRECTNESS_REJECT_REASONS } from "../../caching/remote/ac-entry";
import { type KnownRecord, isAttestVerifyRecord, isBuildRecord, isExplainRecord, isGateRecord, isVerifyRecord } from "../record-kinds";
import { ATTESTATION_SUFFIX } from "../../provenance/attestation";
import type { ReleaseSet } from "../release-set";
import type { ServerRefusals } from "./server-metrics";
import { isoWeek } from "./weeks";

// The five SLIs of the playbook, per ISO week, computed from run records alone: a figure shows
// its counts, not only its ratio (docs/ARCHITECTURE.md, Run records).

/** One week of an SLI: its value (null without data) and the counts behind it. */
export type Week<C> = { week: string; value: number | null } & C;

export interface Sli<C> {
  /** over the whole period */
  value: number | null;
  weeks: Week<C>[];
}

export interface ReproducibilityCounts {
  /** distinct artifacts verified (a rebuild compared) */
  verified: number;
  reproducible: number;
  /** of them, release artifacts (release.targets' outputs) */
  releaseVerified: number;
  releaseReproducible: number;
}

export interface HermeticCounts {
  /** builds run with `--audit`: without one, no violation found is not evidence of none */
  audited: number;
  /** undeclared reads and connects `--audit` found */
  auditFindings: number;
  /** actions that ran an undeclared program in strict mode */
  undeclaredTools: number;
  /** actions that failed on a file missing from their sandbox */
  missingInputs: number;
  /** actions of release closures run unsandboxed in builds of release targets */
  unsandboxedInRelease: number;
}

export interface CacheIncidentCounts {
  /** remote entries refused for a correctness reason (CORRECTNESS_REJECT_REASONS: untrusted, bad-signature, corrupt-blob, replayed, ...), by reason */
  refused: Record<string, number>;
  /** local CAS or action cache corruption found and repaired */
  localCorruption: number;
}

export interface ExplainCounts {
  explained: number;
  /** could not answer in full: no action, or no provenance */
  incomplete: number;
}

export interface CoverageCounts {
  /** release artifacts built: distinct paths and digests */
  built: number;
  /** of them, those provenance covers that verifies against release.policy: signed by a key it trusts for the builder id signed as */
  covered: number;
}

export interface Slis {
  reproducibility: Sli<ReproducibilityCounts>;
  hermeticViolations: Sli<HermeticCounts>;
  /** with `--server`: the server's own refusals, since it started (its counters are not kept by week) */
  cacheIncidents: Sli<CacheIncidentCounts> & { server?: ServerRefusals };
  meanTimeToExplainMs: Sli<ExplainCounts>;
  provenanceCoverage: Sli<CoverageCounts>;
}

export interface SliInputs {
  /** every record read: those of the weeks shown count, the earlier ones may hold the provenance of an artifact built in them */
  records: readonly KnownRecord[];
  /** the weeks shown, oldest first */
  weeks: readonly string[];
  /** release.targets of hb.config.ts, expanded through the graph; none when not set */
  release?: ReleaseSet;
  /** builder id → the ids of the keys release.policy trusts for it */
  trustedBuilders: ReadonlyMap<string, readonly string[]>;
  /** explain runs made at report time, for each release artifact: they count in the current week */
  explainedNow: readonly { durationMs: number; complete: boolean }[];
  /** what the team cache's /metrics counts, when asked (--server) */
  server?: ServerRefusals;
}

/** Counts per week; a week (or the period) with nothing counted has the value null, its counts zero. */
function byWeek<C>(
  weeks: readonly string[],
  zero: () => C,
  value: (c: C) => number | null,
): { add(week: string, f: (c: C) => void): void; sli(total: C): Sli<C> } {
  const counts = new Map(weeks.map((w) => [w, zero()]));
  const seen = new Set<string>();
  return {
    add(week, f) {
      const c = counts.get(week);
      if (!c) return;
      seen.add(week);
      f(c);
    },
    sli(total) {
      return {
        value: seen.size === 0 ? null : value(total),
        weeks: weeks.map((w) => ({ week: w, value: seen.has(w) ? value(counts.get(w)!) : null, ...counts.get(w)! })),
      };
    },
  };
}

const ratio = (n: number, d: number) => (d === 0 ? null : n / d);

export function computeSlis(input: SliInputs): Slis {
  const { weeks, records } = input;
  const current = weeks[weeks.length - 1]!;
  const inPeriod = records.filter((r) => weeks.includes(isoWeek(Date.parse(r.startedAt))));
  const weekOf = (r: KnownRecord) => isoWeek(Date.parse(r.startedAt));
  const release = input.release?.labels ?? new Set<string>();
  const closure = input.release?.closure ?? new Set<string>();
  const releaseOutputs = new Set(input.release?.outputs ?? []);

  // 1. reproducibility: an artifact's last verdict in a week
  const repro = byWeek<ReproducibilityCounts>(
    weeks,
    () => ({ verified: 0, reproducible: 0, releaseVerified: 0, releaseReproducible: 0 }),
    (c) => (release.size > 0 ? ratio(c.releaseReproducible, c.releaseVerified) : ratio(c.reproducible, c.verified)),
  );
  const verdicts = new Map<string, Map<string, { ok: boolean; release: boolean }>>();
  for (const r of inPeriod.filter(isVerifyRecord)) {
    const w = weekOf(r);
    const m = verdicts.get(w) ?? new Map<string, { ok: boolean; release: boolean }>();
    verdicts.set(w, m);
    for (const t of r.targets) {
      for (const o of t.outputs ?? []) m.set(`${o.path}\0${o.sha256}`, { ok: t.status === "reproducible", release: release.has(t.label) });
    }
  }
  // independent rebuilders: the gate's corroboration, an attest verify asking for k > 1; a release
  // artifact is one of release.targets' outputs in this workspace, whichever command verified it
  const verdict = (r: KnownRecord, key: string, ok: boolean, isRelease: boolean) => {
    const w = weekOf(r);
    const m = verdicts.get(w) ?? new Map<string, { ok: boolean; release: boolean }>();
    verdicts.set(w, m);
    m.set(key, { ok, release: isRelease });
  };
  for (const r of inPeriod) {
    if (isGateRecord(r)) {
      for (const a of r.artifacts) {
        const c = a.checks.find((x) => x.check === "corroboration");
        if (c && c.status !== "skip") verdict(r, `${a.path}\0${a.sha256}`, c.status === "pass", releaseOutputs.has(a.path));
      }
    } else if (isAttestVerifyRecord(r) && r.threshold > 1) verdict(r, `${r.path}\0${r.sha256}`, r.ok, releaseOutputs.has(r.path));
  }
  const reproTotal: ReproducibilityCounts = { verified: 0, reproducible: 0, releaseVerified: 0, releaseReproducible: 0 };
  for (const [w, m] of verdicts) {
    for (const v of m.values()) {
      const tally = (c: ReproducibilityCounts) => {
        c.verified++;
        if (v.ok) c.reproducible++;
        if (v.release) c.releaseVerified++;
        if (v.release && v.ok) c.releaseReproducible++;
      };
      repro.add(w, tally);
      tally(reproTotal);
    }
  }

  // 2. hermetic violations: a count of none is a figure only when an audit looked for them
  const herm = byWeek<HermeticCounts>(
    weeks,
    () => ({ audited: 0, auditFindings: 0, undeclaredTools: 0, missingInputs: 0, unsandboxedInRelease: 0 }),
    (c) => {
      const found = c.auditFindings + c.undeclaredTools + c.missingInputs + c.unsandboxedInRelease;
      return found === 0 && c.audited === 0 ? null : found;
    },
  );
  const hermTotal: HermeticCounts = { audited: 0, auditFindings: 0, undeclaredTools: 0, missingInputs: 0, unsandboxedInRelease: 0 };
  for (const r of inPeriod.filter(isBuildRecord)) {
    const releaseBuild = r.targets.some((t) => release.has(t.label));
    const tally = (c: HermeticCounts) => {
      // hermeticViolations is written by every build run with --audit, 0 included
      if (r.hermeticViolations !== undefined) c.audited++;
      c.auditFindings += r.hermeticViolations ?? 0;
      c.undeclaredTools += r.failures.filter((f) => f.code === "UNDECLARED_TOOL").length;
      c.missingInputs += r.failures.filter((f) => f.code === "ACTION_FAILED" && f.sandboxMissingFile).length;
      if (releaseBuild)
        c.unsandboxedInRelease += r.actionList.filter(
          (a) => a.sandbox === "none" && a.status === "executed" && closure.has(a.label),
        ).length;
    };
    herm.add(weekOf(r), tally);
    tally(hermTotal);
  }

  // 3. remote cache correctness incidents
  const cache = byWeek<CacheIncidentCounts>(
    weeks,
    () => ({ refused: {}, localCorruption: 0 }),
    (c) => Object.values(c.refused).reduce((a, b) => a + b, 0) + c.localCorruption,
  );
  const cacheTotal: CacheIncidentCounts = { refused: {}, localCorruption: 0 };
  const correctness = new Set<string>(CORRECTNESS_REJECT_REASONS);
  for (const r of inPeriod.filter(isBuildRecord)) {
    const tally = (c: CacheIncidentCounts) => {
      for (const [why, n] of Object.entries(r.remote?.rejected ?? {})) if (correctness.has(why)) c.refused[why] = (c.refused[why] ?? 0) + n;
      c.localCorruption += r.incidents.length;
    };
    cache.add(weekOf(r), tally);
    tally(cacheTotal);
  }

  // 4. mean time to explain a release: recorded explains of release artifacts, by path or digest
  const releaseDigests = new Set(
    records
      .filter(isBuildRecord)
      .flatMap((r) => r.targets.flatMap((t) => t.outputs))
      .filter((o) => releaseOutputs.has(o.path))
      .map((o) => o.sha256),
  );
  const explainDurations = new Map<string, number[]>();
  const expl = byWeek<ExplainCounts>(
    weeks,
    () => ({ explained: 0, incomplete: 0 }),
    () => null,
  );
  const explTotal: ExplainCounts = { explained: 0, incomplete: 0 };
  const explained = [
    ...inPeriod
      .filter(isExplainRecord)
      .filter((r) => (r.file !== undefined && releaseOutputs.has(r.file)) || releaseDigests.has(r.sha256))
      .map((r) => ({ week: weekOf(r), durationMs: r.durationMs, complete: r.complete })),
    ...input.explainedNow.map((e) => ({ week: current, ...e })),
  ];
  for (const e of explained) {
    const tally = (c: ExplainCounts) => {
      c.explained++;
      if (!e.complete) c.incomplete++;
    };
    expl.add(e.week, tally);
    tally(explTotal);
    explainDurations.set(e.week, [...(explainDurations.get(e.week) ?? []), e.durationMs]);
  }
  const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  const explainSli = expl.sli(explTotal);
  for (const w of explainSli.weeks) w.value = mean(explainDurations.get(w.week) ?? []);
  explainSli.value = mean(explained.map((e) => e.durationMs));

  // 5. provenance coverage: each release artifact (a path and a digest) built in the period, once
  // a week, covered when any build signed provenance for it with a key the policy trusts for the
  // builder id it signed as, at any time the records reach
  const covered = new Set<string>();
  for (const r of records.filter(isBuildRecord)) {
    const keys = r.signingKeyId === undefined ? undefined : input.trustedBuilders.get(r.builderId);
    if (!keys?.includes(r.signingKeyId!)) continue;
    const attested = new Set((r.attestations ?? []).map((a) => a.slice(0, -ATTESTATION_SUFFIX.length)));
    for (const o of r.targets.flatMap((t) => t.outputs)) if (attested.has(o.path)) covered.add(`${o.path}\0${o.sha256}`);
  }
  const built = new Map<string, Set<string>>();
  for (const r of inPeriod.filter(isBuildRecord)) {
    const artifacts = r.targets.flatMap((t) => t.outputs).filter((o) => releaseOutputs.has(o.path));
    if (artifacts.length === 0) continue;
    const week = built.get(weekOf(r)) ?? new Set<string>();
    built.set(weekOf(r), week);
    for (const o of artifacts) week.add(`${o.path}\0${o.sha256}`);
  }
  const cov = byWeek<CoverageCounts>(
    weeks,
    () => ({ built: 0, covered: 0 }),
    (c) => ratio(c.covered, c.built),
  );
  const tallyCoverage = (c: CoverageCounts, artifacts: ReadonlySet<string>) => {
    c.built += artifacts.size;
    for (const a of artifacts) if (covered.has(a)) c.covered++;
  };
  for (const [w, artifacts] of built) cov.add(w, (c) => tallyCoverage(c, artifacts));
  const covTotal: CoverageCounts = { built: 0, covered: 0 };
  tallyCoverage(covTotal, new Set([...built.values()].flatMap((a) => [...a])));

  return {
    reproducibility: repro.sli(reproTotal),
    hermeticViolations: herm.sli(hermTotal),
    cacheIncidents: { ...cache.sli(cacheTotal), ...(input.server ? { server: input.server } : {}) },
    meanTimeToExplainMs: explainSli,
    provenanceCoverage: cov.sli(covTotal),
  };
}
