import { relative } from "node:path";
import type { ActionResult } from "../../base/action-result";
import { ExitCode, HbError, type Warning } from "../../base/errors";
import { loadFingerprinter } from "../../base/fingerprint";
import { sha256Hex } from "../../base/digest";
import { OUT_DIR } from "../../base/graph";
import { OutputBase } from "../../caching/output-base";
import { type ActionOutcome, type BuildEvents, executeActions } from "../../execution/executor";
import { findBwrap } from "../../sandbox/bwrap";
import { lockOutputBase } from "../../workspace/lock";
import { type Workspace, openWorkspace } from "../../workspace/workspace";
import { type AnalyzeResult, analyzeWorkspace } from "../analyze";
import { collectingWarnings } from "../build";
import { type BuildPlan, type BuildRequest, executeOptions, hiddenKeys, planBuild, targetReports, testResults } from "../build-plan";
import type { BuildReport, TestResult } from "../report";
import { actionEntries, appendRunRecord, recordHeader, recordLimits } from "../run-record";
import { cacheMaxBytes } from "../../workspace/config";
import { ContentTracker } from "./content-tracker";
import { FileWatcher, type WatchMode } from "./file-watcher";
import { GraphIndex } from "./graph-index";

/** A save is over once its file's events have been quiet this long (an editor's write and rename come together). */
const QUIET_MS = 10;
/** More paths than a save names are a burst (a `git checkout`, a formatter over the tree): one rebuild, once it is this quiet. */
const BURST_QUIET_MS = 100;
const SAVE_PATHS = 4;

export interface WatchOptions extends BuildRequest {
  outputBase?: string;
  /** path of dist/analyzer.mjs */
  analyzerScript: string;
  /** act as if the system refused a watch beyond this many directories (tests: the sysctl is machine-wide) */
  watchLimit?: number;
  /** files the watch's caller writes after each build (its report), absolute: no change of the tree */
  ownFiles?: readonly string[];
  events?: WatchEvents;
}

/** An action that failed because an input changed between its key and its staging: stopped, to start over. */
function stale(o: ActionOutcome): boolean {
  return o.status === "failed" && o.error?.code === "INPUT_CHANGED";
}

export interface WatchEvents extends BuildEvents {
  lockWait?(message: string): void;
  analyzing?(): void;
  buildFileLog?(line: string): void;
  /** the directories watched and how: said first, and again when either changes */
  watching?(directories: number, mode: WatchMode): void;
  /** files whose content changed (workspace-relative), as soon as they are seen */
  changed?(paths: string[]): void;
  /** a build starts for what changed (workspace-relative): not said for the first build, nor for a change that runs nothing */
  building?(changed: string[]): void;
  /** the build under way was stopped for `paths` (workspace-relative) and starts over */
  restarting?(paths: string[], stopped: number): void;
  /** analysis failed: the watch waits for a change to the files it read */
  analysisFailed?(error: HbError): void;
  /** a build finished (not one stopped to start over); nothing is said for a change that runs nothing */
  rebuilt?(r: Rebuild): void;
}

/** One finished build of a watch. */
export interface Rebuild {
  /** 1 for the first build */
  number: number;
  /** what changed since the last build, workspace-relative (none for the first) */
  changed: string[];
  /** this build's counts: the actions a change reached, not the whole request */
  report: BuildReport;
  /** with `tests`: every test, those the changes did not reach as cached (or failed, if they still do) */
  tests?: TestResult[];
  /** the state of the whole request: what a one-shot build would exit with now */
  exitCode: ExitCode;
  /** failures of earlier builds still standing: their inputs did not change, they were not run again */
  standing: number;
  /** requested targets whose outputs (files, runfiles, executable) differ from the last build's */
  changedTargets: string[];
  /** the workspace root */
  root: string;
  /** the executables of the requested targets, workspace-relative */
  executables: Map<string, string | undefined>;
  /** epoch ms: the first event of the changes, the build's start and end */
  timing: { firstChangeAtMs?: number; startedAtMs: number; finishedAtMs: number };
}

/**
 * `hb watch`, `hb test --watch`, `hb run --watch`: builds the request, then rebuilds what each
 * change of content reaches, until `signal` stops it. The process keeps the graph, the stat
 * cache and the open database warm between builds, and holds the output base all along (one hb
 * at a time: another waits, and says so). Resolves with the exit code of the last build.
 */
export async function watch(opts: WatchOptions): Promise<ExitCode> {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const lock = await lockOutputBase(workspace.outputBase, (m) => opts.events?.lockWait?.(m), opts.signal);
  let base: OutputBase | undefined;
  try {
    base = new OutputBase(workspace.outputBase);
    if (opts.sandbox !== "none") findBwrap();
    await loadFingerprinter();
    return await new WatchSession(opts, workspace, base).run();
  } finally {
    base?.close();
    lock.release();
  }
}

interface Pending {
  changed: Set<string>;
  structural: boolean;
  /** what is said to have changed: files, and entries that appeared or went (absolute) */
  said: Set<string>;
  firstAtMs?: number;
  /** what a build stopped to start over had been started for: said with the build that finishes */
  carried?: string[];
}

class WatchSession {
  private analysis!: AnalyzeResult;
  private plan!: BuildPlan;
  private index!: GraphIndex;
  /** analysis failed: nothing builds until a file it read changes */
  private broken: HbError | undefined;
  /** actions done with their current inputs, and their results */
  private settled = new Map<number, ActionResult>();
  /** actions that failed with their current inputs: not run again, nor said again, until those change */
  private failed = new Map<number, HbError>();
  private pending: Pending = { changed: new Set(), structural: false, said: new Set() };
  private readonly events: WatchEvents;
  /** the events a build's steps send, with every warning kept for its report */
  private readonly buildEvents: BuildEvents;
  private readonly tracker = new ContentTracker();
  private readonly watcher: FileWatcher;
  /** paths events named, not looked at yet */
  private readonly raw = new Set<string>();
  private rawTimer: NodeJS.Timeout | undefined;
  private firstRawAtMs: number | undefined;
  private lastRawAtMs = 0;
  private wake: (() => void) | undefined;
  /** the build under way: it, and each of its actions, can be stopped on its own */
  private running: { stop: AbortController; actions: Map<number, AbortController> } | undefined;
  private builds = 0;
  private restarts = 0;
  private exitCode: ExitCode = ExitCode.interrupted;
  private lastTargets = new Map<string, string>();
  private readonly warnings: Warning[] = [];

  constructor(
    private readonly opts: WatchOptions,
    private readonly workspace: Workspace,
    private readonly base: OutputBase,
  ) {
    this.events = opts.events ?? {};
    const build = collectingWarnings(this.events, this.warnings);
    // an action whose input changed before it was staged is one more to start over, not a failure to say
    this.buildEvents = { ...build, actionFinished: (o) => stale(o) || build.actionFinished?.(o) };
    this.watcher = new FileWatcher({
      onPaths: (paths) => this.onPaths(paths),
      // the first line says it, once the first directories are watched
      onMode: (mode) => this.builds + this.restarts > 0 && this.events.watching?.(this.watcher.directories, mode),
      limit: opts.watchLimit,
    });
  }

  async run(): Promise<ExitCode> {
    const { signal } = this.opts;
    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    try {
      await this.analyze(true);
      this.events.watching?.(this.watcher.directories, this.watcher.currentMode);
      // what changed before the watches stood is in the files as they are now: take the analysis again
      await this.analyze(true);
      let first = true;
      while (!signal.aborted) {
        if (!first && this.pending.changed.size === 0 && !this.pending.structural) {
          await Promise.race([new Promise<void>((resolve) => (this.wake = resolve)), stopped]);
          this.wake = undefined;
          continue;
        }
        await this.rebuild(first);
        first = false;
      }
      return this.exitCode;
    } finally {
      clearTimeout(this.rawTimer);
      await this.watcher.close();
    }
  }

  /** Events: the paths they name are looked at once a burst is over. */
  private onPaths(paths: string[]): void {
    const own = this.opts.ownFiles ?? [];
    const relevant = paths.filter((p) => !this.index.ignores(p) && !own.some((f) => p === f || p.startsWith(`${f}.tmp-`)));
    if (relevant.length === 0) return;
    for (const p of relevant) this.raw.add(p);
    this.lastRawAtMs = Date.now();
    this.firstRawAtMs ??= this.lastRawAtMs;
    clearTimeout(this.rawTimer);
    this.rawTimer = setTimeout(() => this.settle(), QUIET_MS);
  }

  /** A burst is looked at once it is over. */
  private settle(): void {
    const quiet = this.raw.size > SAVE_PATHS ? BURST_QUIET_MS : QUIET_MS;
    const left = this.lastRawAtMs + quiet - Date.now();
    if (left > 0) this.rawTimer = setTimeout(() => this.settle(), left);
    else this.look();
  }

  /** Compares what events named with what it was; a change of content stops what it makes stale. */
  private look(): void {
    const paths = [...this.raw];
    this.raw.clear();
    const firstAtMs = this.firstRawAtMs;
    this.firstRawAtMs = undefined;
    const { changed, entries, structural } = this.tracker.check(paths);
    if (changed.length === 0 && !structural) return;
    this.pending.firstAtMs ??= firstAtMs;
    for (const p of changed) this.pending.changed.add(p);
    for (const p of [...changed, ...entries]) this.pending.said.add(p);
    this.pending.structural ||= structural;
    if (changed.length > 0) this.events.changed?.(changed.map((p) => this.rel(p)));
    const run = this.running;
    if (run) {
      if (structural || changed.some((p) => this.index.analysisFiles.has(p))) run.stop.abort();
      else for (const id of this.index.affectedBy(changed)) run.actions.get(id)?.abort();
    }
    this.wake?.();
  }

  /**
   * Analyses the request (from the analysis cache when nothing it read changed), and watches what
   * the graph says. `initial`: a failure is the command's (exit 2), not one to wait out.
   */
  private async analyze(initial: boolean): Promise<boolean> {
    const { opts, workspace, base } = this;
    let analysis: AnalyzeResult;
    try {
      analysis = await analyzeWorkspace({
        workspace,
        base,
        patterns: opts.patterns,
        cwd: opts.cwd,
        analyzerScript: opts.analyzerScript,
        sandboxed: opts.sandbox !== "none",
        signal: opts.signal,
        onLog: (line) => this.events.buildFileLog?.(line),
        onAnalyzing: () => this.events.analyzing?.(),
        hide: hiddenKeys(opts),
      });
    } catch (e) {
      if (initial || !(e instanceof HbError) || opts.signal.aborted) throw e;
      if (this.broken?.message !== e.message) this.events.analysisFailed?.(e);
      this.broken = e;
      this.exitCode = e.exitCode;
      return false;
    }
    this.broken = undefined;
    if (this.analysis?.fingerprint === analysis.fingerprint) return true;
    const plan = await planBuild(opts, workspace, analysis, this.buildEvents);
    const wanted = { targets: opts.tests ? [...plan.tests.keys()] : analysis.graph.requested, extraOutputs: [...plan.tests.values()] };
    const index = new GraphIndex(analysis.graph, analysis.inputs, workspace, analysis.config.ignore, wanted);
    if (this.index) this.carryOver(this.index, index);
    this.analysis = analysis;
    this.plan = plan;
    this.index = index;
    const before = this.watcher.directories;
    await this.watcher.watch(index.dirs);
    this.tracker.track(index.tracked);
    if (!initial && before !== this.watcher.directories) this.events.watching?.(this.watcher.directories, this.watcher.currentMode);
    return true;
  }

  /** What stands of the last graph's results in the new one: the actions analysis described the same. */
  private carryOver(from: GraphIndex, to: GraphIndex): void {
    const byIdentity = new Map(from.needed.map((id) => [from.identity(id), id]));
    const settled = new Map<number, ActionResult>();
    const failed = new Map<number, HbError>();
    for (const id of to.needed) {
      const old = byIdentity.get(to.identity(id));
      if (old === undefined || from.spec(old) !== to.spec(id)) continue;
      const result = this.settled.get(old);
      if (result) settled.set(id, result);
      const error = this.failed.get(old);
      if (error) failed.set(id, error);
    }
    // an action whose inputs another action makes is as current as they are: re-keyed when they re-run
    for (const id of to.downstream([...to.needed].filter((id) => !settled.has(id) && !failed.has(id)))) {
      settled.delete(id);
      failed.delete(id);
    }
    this.settled = settled;
    this.failed = failed;
  }

  private async rebuild(first: boolean): Promise<void> {
    const changes = this.pending;
    this.pending = { changed: new Set(), structural: false, said: new Set() };
    const startedAtMs = Date.now();
    const changed = this.tracker.sinceBuild(changes.changed);
    // a file seen changing and back (a save in two writes) is not said, nor rebuilt for
    for (const p of changes.changed) if (!changed.includes(p)) changes.said.delete(p);
    // before and after a new analysis: what read a changed file is stale, in either graph
    this.invalidate(changed);
    if (changes.structural || this.broken || changed.some((p) => this.index.analysisFiles.has(p))) {
      if (!(await this.analyze(false))) return;
      this.invalidate(changed);
    }
    const blocked = this.index.downstream(this.failed.keys());
    const scope = this.index.needed.filter((id) => !this.settled.has(id) && !blocked.has(id));
    if (scope.length === 0 && !first) return;
    const said = [...new Set([...(changes.carried ?? []), ...[...changes.said].map((p) => this.rel(p))])].sort();
    if (!first) this.events.building?.(said);

    const stop = new AbortController();
    const onAbort = () => stop.abort();
    this.opts.signal.addEventListener("abort", onAbort, { once: true });
    const actions = new Map<number, AbortController>();
    // a listener per action would be hundreds on one signal (and Node's leak warning on the terminal)
    stop.signal.addEventListener("abort", () => actions.forEach((c) => c.abort()), { once: true });
    this.running = { stop, actions };
    this.warnings.length = 0;
    const { workspace, base, plan, index } = this;
    const graph = index.graph;
    let outcomes: ActionOutcome[];
    let outputs;
    try {
      // a watch goes on past a failure: everything that does not depend on it is built
      const request = { ...this.opts, keepGoing: this.opts.keepGoing ?? true, signal: stop.signal };
      const exec = await executeActions({
        ...executeOptions(request, workspace, base, this.analysis.config, graph, plan, this.buildEvents),
        // the outputs of what is to run: what they need and is settled is taken as it is, and
        // what stands behind a failure is not asked for
        targets: [],
        extraOutputs: scope.flatMap((id) => [...graph.actions[id]!.outputs, ...graph.actions[id]!.outputDirs]),
        settled: this.settled,
        actionSignal: (a) => {
          // stopped with the build (one listener for all of them, below), or alone
          const c = new AbortController();
          if (stop.signal.aborted) c.abort();
          actions.set(a.id, c);
          return c.signal;
        },
      });
      outcomes = exec.outcomes;
      outputs = exec.outputs;
    } finally {
      this.running = undefined;
      this.opts.signal.removeEventListener("abort", onAbort);
    }
    base.stats.flush();
    let stopped = 0;
    for (const o of outcomes) {
      if ((o.status === "executed" || o.status === "cached") && o.result) this.settled.set(o.action.id, o.result);
      else if (o.status === "interrupted" || stale(o)) stopped++;
      else if (o.status === "failed" && o.error) this.failed.set(o.action.id, o.error);
    }
    if (this.opts.signal.aborted) return;
    if (stop.signal.aborted || stopped > 0) {
      // what made them stale is pending: the next build starts over from it
      this.pending.carried = [...new Set([...said, ...(this.pending.carried ?? [])])];
      this.pending.firstAtMs = changes.firstAtMs ?? this.pending.firstAtMs;
      this.restarts++;
      this.events.restarting?.(
        [...this.pending.changed].map((p) => this.rel(p)),
        stopped,
      );
      return;
    }
    this.builds++;
    const finishedAtMs = Date.now();
    const failures = outcomes.filter((o) => o.status === "failed" && o.error);
    const standing = this.failed.size - failures.length;
    const count = (s: ActionOutcome["status"]) => outcomes.filter((o) => o.status === s).length;
    const report: BuildReport = {
      ...recordHeader(this.opts.tests ? "test" : "build", workspace.root, startedAtMs),
      actions: outcomes.length,
      executed: count("executed"),
      cached: { local: outcomes.filter((o) => o.status === "cached" && !o.remote).length, remote: outcomes.filter((o) => o.remote).length },
      failed: count("failed"),
      skipped: count("skipped"),
      durationMs: finishedAtMs - startedAtMs,
      sandbox: plan.mode,
      targets: targetReports(graph, outputs, base, workspace.root),
      incidents: base.cas.incidents.splice(0),
      interrupted: false,
      errors: failures.map((o) => o.error!.toData()),
      failures: failures.map((o) => o.error!.toFailure(o.action.owner)),
      warnings: [...this.warnings],
      actionList: actionEntries(outcomes),
    };
    let tests: TestResult[] | undefined;
    let exitCode: ExitCode = this.failed.size > 0 ? ExitCode.buildFailed : ExitCode.ok;
    if (this.opts.tests) {
      tests = this.testsNow(outcomes);
      const testFailed = tests.some((t) => t.status === "failed");
      const logs = new Set(plan.tests.values());
      const other = [...this.failed.keys()].some((id) => !graph.actions[id]!.outputs.some((p) => logs.has(p)));
      exitCode = testFailed ? ExitCode.testFailed : other ? ExitCode.buildFailed : ExitCode.ok;
    }
    if (tests) report.tests = tests;
    // a rebuild is a build: it keeps the cache within its size, and is recorded as one
    base.collectGarbage({ maxBytes: cacheMaxBytes(this.analysis.config) });
    appendRunRecord(base.dir, report, recordLimits(this.analysis.config));
    this.exitCode = exitCode;
    const byLabel = new Map(graph.targets.map((t) => [t.label, t]));
    this.events.rebuilt?.({
      number: this.builds,
      changed: said,
      report,
      tests,
      exitCode,
      standing,
      changedTargets: this.changedTargets(outputs),
      root: workspace.root,
      executables: new Map(graph.requested.map((l) => [l, byLabel.get(l)?.executable])),
      timing: { firstChangeAtMs: changes.firstAtMs, startedAtMs, finishedAtMs },
    });
  }

  private invalidate(changed: readonly string[]): void {
    for (const id of this.index.affectedBy(changed)) {
      this.settled.delete(id);
      this.failed.delete(id);
    }
  }

  /** Every test: as this build ran it, or as it stands from an earlier one. */
  private testsNow(outcomes: readonly ActionOutcome[]): TestResult[] {
    const producer = new Map(this.index.graph.actions.flatMap((a) => a.outputs.map((p) => [p, a.id] as const)));
    const logs = new Map(this.plan.tests);
    return testResults(this.plan, outcomes).map((t) => {
      if (t.status !== "not run") return t;
      const id = producer.get(logs.get(t.label)!);
      if (id !== undefined && this.settled.has(id)) return { ...t, status: "cached" as const };
      const error = id !== undefined ? this.failed.get(id) : undefined;
      return error ? { ...t, status: "failed" as const, error: error.toData() } : t;
    });
  }

  /** The requested targets whose outputs differ from what the last build left (all of them, the first time). */
  private changedTargets(outputs: ReadonlyMap<string, { hash: string }>): string[] {
    const changed: string[] = [];
    const byLabel = new Map(this.index.graph.targets.map((t) => [t.label, t]));
    for (const label of this.index.graph.requested) {
      const t = byLabel.get(label);
      if (!t) continue;
      const files = [...new Set([...t.files, ...(t.runfiles ?? []), ...(t.executable ? [t.executable] : [])])].sort();
      // a target whose outputs are not all made (a failure) has not changed: what ran before stands
      if (files.some((f) => f.startsWith(OUT_DIR + "/") && !outputs.has(f))) continue;
      const print = sha256Hex(files.map((f) => `${f}=${outputs.get(f)?.hash ?? ""}`).join("\n"));
      if (this.lastTargets.get(label) !== print) changed.push(label);
      this.lastTargets.set(label, print);
    }
    return changed;
  }

  private rel(abs: string): string {
    return relative(this.workspace.root, abs);
  }
}
