import { statSync } from "node:fs";
import { join, relative } from "node:path";
import { HB_LOCK_FILE } from "../fetch/hb-lock";
import type { ActionGraph } from "../base/graph";
import { asDiskFull } from "../base/disk-full";
import { ExitCode, HbError, type Warning } from "../base/errors";
import { keyId } from "../base/keys";
import type { ActionOutcome, BuildEvents } from "../execution/executor";
import type { OutputFacts } from "../execution/materialize";
import { findBwrap } from "../sandbox/bwrap";
import { lockOutputBase } from "../workspace/lock";
import { OutputBase } from "../caching/output-base";
import { openWorkspace, type Workspace } from "../workspace/workspace";
import { analyzeWorkspace } from "./analyze";
import { RACY_MARGIN_MS } from "../base/racy";
import { ABSENT, type NoopSnapshot, checkNoopSnapshot, noopKey, saveNoopSnapshot, settledActions, unchanged } from "./noop";
import type { ProvenanceRequest } from "./sign-provenance";
import { type BuildRequest, executeOptions, hiddenKeys, nonTestFailure, planBuild, targetReports, testResults } from "./build-plan";
import type { BuildReport, TargetReport, TestResult } from "./report";
import { actionEntries, appendRunRecord, recordHeader, recordLimits } from "./run-record";
import { defaultBuilderId } from "../provenance/statement";
import { cacheMaxBytes } from "../workspace/config";

export interface BuildOptions extends BuildRequest {
  outputBase?: string;
  /** sign in-toto/SLSA provenance for the requested targets' outputs */
  provenance?: ProvenanceRequest;
  /** hb's version, as provenance records it */
  hbVersion?: string;
  analyzerScript: string;
  events?: BuildEvents & {
    lockWait?(message: string): void;
    analyzing?(): void;
    buildFileLog?(line: string): void;
  };
}

export interface BuildResult {
  report: BuildReport;
  exitCode: ExitCode;
  errors: HbError[];
  workspace: Workspace;
  graph: ActionGraph;
  outcomes: ActionOutcome[];
  /** with `tests`: one per test target */
  tests?: TestResult[];
}

/** `hb build`: analyze the patterns, then execute what their targets need. */
export async function build(request: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const command = request.tests ? "test" : "build";
  // every warning is said as it comes and kept for the report
  const warnings: Warning[] = [];
  const opts: BuildOptions = { ...request, events: collectingWarnings(request.events, warnings) };
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const signing = opts.provenance
    ? await (await import("./sign-provenance")).prepareProvenance(workspace, opts.provenance, opts.sandbox)
    : undefined;
  const lock = await lockOutputBase(workspace.outputBase, (m) => opts.events?.lockWait?.(m), opts.signal);
  let base: OutputBase | undefined;
  try {
    base = new OutputBase(workspace.outputBase);
    const preMode = opts.sandbox;
    if (preMode !== "none") findBwrap();
    const keys = hiddenKeys(opts);
    const analysis = await analyzeWorkspace({
      workspace,
      base,
      patterns: opts.patterns,
      cwd: opts.cwd,
      analyzerScript: opts.analyzerScript,
      sandboxed: preMode !== "none",
      signal: opts.signal,
      onLog: (line) => opts.events?.buildFileLog?.(line),
      onAnalyzing: () => opts.events?.analyzing?.(),
      hide: keys,
    });
    const { config } = analysis;
    const plan = await planBuild(opts, workspace, analysis, opts.events);
    const { mode, epoch, stamp, remote } = plan;
    // the no-op fast path: nothing the last clean build of this request read or wrote has changed
    const fastPath = !opts.audit && !opts.provenance && !opts.remote?.upload;
    // the workspace too: two checkouts may share an output base (--output-base, HB_OUTPUT_BASE)
    const snapKey = noopKey({
      root: workspace.root,
      analysis: analysis.fingerprint,
      mode,
      stamp: stamp ?? null,
      execProperties: plan.execProperties ?? null,
      tests: opts.tests === true,
    });
    const check = fastPath ? checkNoopSnapshot(base.db, snapKey, workspace.root, base.stats) : undefined;
    if (check && unchanged(check)) {
      const { snapshot } = check;
      opts.events?.planned?.(snapshot.actions);
      const tests = snapshot.tests?.map((t) => ({ ...t, status: "cached" as const, durationMs: 0 }));
      const report: BuildReport = {
        ...recordHeader(command, workspace.root, started, { builderId: opts.provenance?.builderId }),
        actions: snapshot.actions,
        executed: 0,
        cached: { local: snapshot.actions, remote: 0 },
        failed: 0,
        skipped: 0,
        durationMs: Date.now() - started,
        sandbox: mode,
        targets: snapshot.targets,
        incidents: [],
        interrupted: false,
        errors: [],
        failures: [],
        warnings,
        upToDate: true,
        actionList: [],
        ...(tests ? { tests } : {}),
      };
      appendRunRecord(base.dir, report, recordLimits(config));
      return {
        report,
        exitCode: ExitCode.ok,
        errors: [],
        workspace,
        // a no-op reads no graph: parsed only if the caller asks (hb run does)
        get graph() {
          return analysis.graph;
        },
        outcomes: [],
        tests,
      };
    }
    // the executor (sandbox, caches, fetch) and the signing code load once the no-op fast path has not answered
    const [{ executeActions }, { removeStaleAttestations, writeProvenance }] = await Promise.all([
      import("../execution/executor"),
      import("./sign-provenance"),
    ]);
    const { graph } = analysis;
    const options = executeOptions(opts, workspace, base, config, graph, plan, opts.events);
    // the incremental fast path: what reads nothing that changed stands, unkeyed
    const settled =
      check &&
      settledActions(
        graph,
        options,
        check,
        workspace.root,
        (key) => base!.ac.get(key),
        (f) => base!.cas.holds(f, f.executable),
      );
    if (settled) for (const [path, st] of check!.unchanged) base.stats.saw(path, st);
    const exec = await executeActions({ ...options, settled: settled && new Map([...settled].map(([id, s]) => [id, s.result])) });
    // settled actions are cache hits, as the full path would find them
    for (const [id, { key, result }] of settled ?? [])
      exec.outcomes.push({ action: graph.actions[id]!, status: "cached", key, result, durationMs: 0 });
    warnFutureFiles(base, workspace.root, opts.events);

    const failedOutcomes = exec.outcomes.filter((o) => o.status === "failed" && o.error);
    const errors = failedOutcomes.map((o) => o.error!);
    const count = (s: ActionOutcome["status"]) => exec.outcomes.filter((o) => o.status === s).length;
    const targets = targetReports(graph, exec.outputs, base, workspace.root);
    base.stats.flush();
    let provenance: Pick<BuildReport, "attestations" | "signingKeyId"> | undefined;
    if (signing && errors.length === 0 && !exec.interrupted) {
      const subjects = targets.flatMap((t) =>
        t.outputs.filter((o) => o.path.startsWith("hb-out/")).map((o) => ({ path: o.path, sha256: o.sha256 })),
      );
      if (subjects.length === 0) throw new HbError("USAGE", "--provenance: the requested targets have no outputs to attest");
      const attestations = writeProvenance({
        root: workspace.root,
        base,
        graph,
        outcomes: exec.outcomes,
        subjects,
        patterns: opts.patterns,
        mode,
        sourceDateEpoch: epoch,
        hbVersion: opts.hbVersion ?? "dev",
        npm: config.npm,
        key: signing.key,
        source: signing.source,
        builderId: opts.provenance!.builderId ?? defaultBuilderId(),
        startedOn: new Date(started),
        finishedOn: new Date(),
      });
      provenance = { attestations, signingKeyId: keyId(signing.key) };
    }
    // an attestation left beside an output this build made other bytes of would vouch for bytes no longer there
    if (!provenance) {
      // a settled action's outputs are the bytes the last clean build left and looked at
      const kept = new Set([...(settled?.values() ?? [])].flatMap((s) => s.result.files.map((f) => f.path)));
      removeStaleAttestations(
        workspace.root,
        base.db,
        targets.flatMap((t) => t.outputs.filter((o) => o.path.startsWith("hb-out/") && !kept.has(o.path))),
      );
    }
    const report: BuildReport = {
      ...recordHeader(command, workspace.root, started, { builderId: opts.provenance?.builderId, dirty: signing?.source.commit?.dirty }),
      actions: exec.outcomes.length,
      executed: count("executed"),
      cached: {
        local: exec.outcomes.filter((o) => o.status === "cached" && !o.remote).length,
        remote: exec.outcomes.filter((o) => o.remote).length,
      },
      failed: count("failed"),
      skipped: count("skipped") + count("interrupted"),
      durationMs: Date.now() - started,
      sandbox: mode,
      targets,
      incidents: exec.incidents,
      interrupted: exec.interrupted,
      errors: errors.map((e) => e.toData()),
      failures: failedOutcomes.map((o) => o.error!.toFailure(o.action.owner)),
      warnings,
      actionList: actionEntries(exec.outcomes),
      ...provenance,
    };
    if (remote) report.remote = { url: remote.display, ...remote.stats };
    else if (plan.execution) report.remote = { url: plan.execution.channel.display, ...plan.execution.stats };
    if (opts.audit) {
      report.audit = exec.outcomes
        .filter((o) => o.audit && (o.audit.reads.length > 0 || o.audit.connects.length > 0))
        .map((o) => ({ label: o.action.owner, reads: o.audit!.reads, connects: o.audit!.connects }))
        .sort((a, b) => (a.label < b.label ? -1 : 1));
      report.hermeticViolations = report.audit.reduce((n, a) => n + a.reads.length + a.connects.length, 0);
    }
    let tests: TestResult[] | undefined;
    let exitCode: ExitCode = exec.interrupted ? ExitCode.interrupted : errors.length > 0 ? ExitCode.buildFailed : ExitCode.ok;
    if (opts.tests) {
      tests = testResults(plan, exec.outcomes);
      if (!exec.interrupted)
        exitCode = tests.some((t) => t.status === "failed")
          ? ExitCode.testFailed
          : nonTestFailure(plan, exec.outcomes)
            ? ExitCode.buildFailed
            : ExitCode.ok;
    }
    if (tests) report.tests = tests;
    const clean = exitCode === ExitCode.ok && !exec.interrupted && exec.incidents.length === 0 && !opts.audit;
    saveNoopSnapshot(
      base.db,
      snapKey,
      clean ? snapshotOf(base, workspace.root, exec.outcomes, exec.materialized, targets, tests) : undefined,
    );
    base.collectGarbage({ maxBytes: cacheMaxBytes(config) });
    report.durationMs = Date.now() - started;
    appendRunRecord(base.dir, report, recordLimits(config));
    return { report, exitCode, errors, workspace, graph, outcomes: exec.outcomes, tests };
  } catch (e) {
    throw asDiskFull(e, workspace.outputBase, "hb could not write its output base") ?? e;
  } finally {
    base?.close();
    lock.release();
  }
}

/** The events, forwarded as they are, with every warning also kept in `sink`. */
export function collectingWarnings(events: BuildOptions["events"], sink: Warning[]): NonNullable<BuildOptions["events"]> {
  return {
    planned: (n) => events?.planned?.(n),
    actionStarted: (a) => events?.actionStarted?.(a),
    fetching: (url) => events?.fetching?.(url),
    actionFinished: (o) => events?.actionFinished?.(o),
    outputsFailed: (o) => events?.outputsFailed?.(o),
    warning: (w) => {
      sink.push(w);
      events?.warning?.(w);
    },
    lockWait: (m) => events?.lockWait?.(m),
    analyzing: () => events?.analyzing?.(),
    buildFileLog: (l) => events?.buildFileLog?.(l),
  };
}

/** A file dated in the future is racily clean until then: re-read every build, and no build a no-op. */
function warnFutureFiles(base: OutputBase, root: string, events: BuildEvents | undefined): void {
  const soon = Date.now() + RACY_MARGIN_MS;
  const future = [...base.stats.seen].filter(([, st]) => st.mtimeMs > soon).map(([path]) => relative(root, path));
  if (future.length === 0) return;
  events?.warning?.({ code: "FUTURE_MTIME", paths: future });
}

/**
 * The stats of everything a clean build read, as it read them, and of everything it wrote. A file
 * changed while the build ran no longer matches them, so the next build takes the full path;
 * they are trusted only for files last changed well before the build began (git's racy rule).
 */
function snapshotOf(
  base: OutputBase,
  root: string,
  outcomes: readonly ActionOutcome[],
  materialized: OutputFacts[] | undefined,
  targets: TargetReport[],
  tests: TestResult[] | undefined,
): NoopSnapshot | undefined {
  if (!materialized || base.stats.changedDuringBuild) return undefined;
  const files: NoopSnapshot["files"] = [...base.stats.seen].map(([path, st]) => [path, st.size, st.mtimeMs, st.ctimeMs, st.ino]);
  // hb.lock.json's pins enter npm_install keys, and it is read whole, not through the stat cache;
  // present or not, as it is now: the fetch step may have just pinned into it
  const lock = join(root, HB_LOCK_FILE);
  if (!base.stats.seen.has(lock)) {
    const st = statSync(lock, { throwIfNoEntry: false });
    files.push(st ? [lock, st.size, st.mtimeMs, st.ctimeMs, st.ino] : [lock, ABSENT, 0, 0, 0]);
  }
  const keys = outcomes.flatMap((o): [number, string][] => (o.key ? [[o.action.id, o.key]] : []));
  return { recordedAtMs: base.stats.openedMs, files, outputs: materialized, actions: outcomes.length, targets, tests, keys };
}
