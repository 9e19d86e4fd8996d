import { existsSync } from "node:fs";
import { join } from "node:path";
import { type ActionInfo, actionInfoReader } from "../../caching/action-cache";
import { loadTrustedBuilders } from "../../provenance/trusted-builders";
import { openWorkspace } from "../../workspace/workspace";
import { withWorkspaceConfig } from "../analyze";
import { answeredInFull, explainIn } from "../explain";
import { releaseSet } from "../release-set";
import { type BypassRecord, openBypasses } from "../gate/bypass-log";
import { readRunRecords } from "../record-kinds";
import { type CacheTiers, type FlakyTest, type SlowAction, cacheTiers, flakyTests, lastBuildMisses, slowestActions } from "./details";
import { readServerRefusals } from "./server-metrics";
import { type Slis, computeSlis } from "./slis";
import { parseSince, weeksBetween } from "./weeks";

export interface TrustReportOptions {
  cwd: string;
  outputBase?: string;
  /** `8w`, `30d` or a date (default 8w) */
  since?: string;
  /** more record files or directories (CI artifacts) */
  runs: readonly string[];
  /** the team cache server whose /metrics counts its refusals; HB_CACHE_TOKEN for read access */
  server?: { url: string; token?: string };
  analyzerScript: string;
  signal: AbortSignal;
  /** the moment the report is made at (tests) */
  nowMs?: number;
}

/** What `hb report` answers: the SLIs, and what explains them. */
export interface TrustReport {
  schemaVersion: 1;
  generatedAt: string;
  weeks: string[];
  /** run records of the period read, from every source, each once */
  records: number;
  /** lines or files read that are not usable records (torn, of another schema version, fields missing or mistyped): left out */
  skipped: number;
  release: { targets: string[] };
  slis: Slis;
  cache: CacheTiers;
  slowest: SlowAction[];
  lastBuildMisses: { label: string; mnemonic: string; why: string }[];
  flaky: FlakyTest[];
  openBypasses: BypassRecord[];
}

/** Why an action ran again: the first input whose digest differs from the last time, read from the action cache's records. */
function whyRan(info: (key: string) => ActionInfo | undefined, key: string, previousKey: string | undefined): string {
  if (!previousKey) return "not recorded before in these records";
  const [now, before] = [info(key), info(previousKey)];
  if (!now || !before) return `its key changed (${previousKey.slice(0, 12)} -> ${key.slice(0, 12)})`;
  const files = (i: ActionInfo) => new Map([...i.inputs, ...i.tools, ...i.toolchains].map((f) => [f.path, f.hash]));
  const [a, b] = [files(now), files(before)];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (a.get(path) === b.get(path)) continue;
    if (!b.has(path)) return `${path} is a new input`;
    if (!a.has(path)) return `${path} is no longer an input`;
    return `${path} changed (${b.get(path)!.slice(0, 12)} -> ${a.get(path)!.slice(0, 12)})`;
  }
  if (JSON.stringify(now.argv) !== JSON.stringify(before.argv)) return "its command changed";
  if (JSON.stringify(now.env) !== JSON.stringify(before.env)) return "its environment changed";
  return "its platform or host changed";
}

/**
 * `hb report`: the five SLIs week by week from the run records (the output base's, and any given
 * with `--runs`), the release artifacts explained now (mean time to explain), the server's own
 * refusals when asked, and the tables below them.
 */
export async function trustReport(opts: TrustReportOptions): Promise<TrustReport> {
  const now = opts.nowMs ?? Date.now();
  const since = parseSince(opts.since ?? "8w", now);
  // asked before the output base is locked: a slow server holds up this report, never a build
  const server = opts.server ? await readServerRefusals(opts.server, opts.signal) : undefined;
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  return withWorkspaceConfig(workspace, opts, async ({ base, release, analyze }) => {
    const { records, skipped } = readRunRecords(workspace.outputBase, opts.runs);
    const weeks = weeksBetween(since, now);
    const inPeriod = records.filter((r) => Date.parse(r.startedAt) >= since);
    // mean time to explain: each release artifact there is, explained now, in full or not
    const releases = release && release.targets.length > 0 ? releaseSet((await analyze(release.targets)).graph) : undefined;
    const trusted = loadTrustedBuilders(workspace.root, release?.policy?.builders ?? {});
    const explainedNow: { durationMs: number; complete: boolean }[] = [];
    for (const f of releases?.outputs ?? []) {
      if (!existsSync(join(workspace.root, f))) continue;
      const t0 = performance.now();
      const e = await explainIn(workspace, base.db, { cwd: workspace.root, what: f }, trusted);
      explainedNow.push({ durationMs: performance.now() - t0, complete: answeredInFull(e) });
    }
    const info = actionInfoReader(base.db);
    const slis = computeSlis({
      records,
      weeks,
      release: releases,
      trustedBuilders: trusted.builders,
      explainedNow,
      server,
    });
    return {
      schemaVersion: 1,
      generatedAt: new Date(now).toISOString(),
      weeks,
      records: inPeriod.length,
      skipped,
      release: { targets: release?.targets ?? [] },
      slis,
      cache: cacheTiers(inPeriod),
      slowest: slowestActions(inPeriod),
      lastBuildMisses: lastBuildMisses(inPeriod).map((m) => ({
        label: m.label,
        mnemonic: m.mnemonic,
        why: whyRan(info, m.key, m.previousKey),
      })),
      flaky: flakyTests(inPeriod),
      openBypasses: openBypasses(workspace.outputBase),
    };
  });
}
