import { join } from "node:path";
import type { ActionResult } from "../base/action-result";
import { asDiskFull } from "../base/disk-full";
import { HbError, type Warning } from "../base/errors";
import { type ActionGraph, OUT_DIR, type RunAction } from "../base/graph";
import { joinRel, parseLabel } from "../base/label";
import { ResultCache } from "../caching/result-cache";
import { fetchStep } from "../fetch/fetch-step";
import { npmInstallKey, npmPolicy } from "../fetch/requests";
import type { LockfilePolicy } from "../fetch/npm-tree";
import { HB_LOCK_FILE } from "../fetch/hb-lock";
import { ActionKeyer } from "../keying/action-keyer";
import { sha256Hex } from "../base/digest";
import { type ResolvedToolchain, findStrace, resolveToolchains } from "../keying/toolchains";
import { ActionSandbox, actionSandboxMode } from "../sandbox/action-sandbox";
import { SandboxStaging } from "../sandbox/sandbox-staging";
import { type Forbidden, forbiddenPaths } from "../workspace/source-policy";
import { actionsNeededBy, producers } from "./action-closure";
import { Background } from "./background";
import { BuildOutputs } from "./build-outputs";
import { builtinAction } from "./builtin-actions";
import type { Job } from "./job";
import { Materializer, buildUnderway } from "./materialize";
import type { ExecuteOptions } from "./options";
import type { ActionOutcome, ActionStatus, ExecutionResult } from "./outcome";
import { RunActions } from "./run-action";
import type { RemoteRuns } from "./remote-run";
import { forgetChangedToolchains } from "./toolchain-recheck";
import { type Runner, Scheduler, type Step } from "./scheduler";

export type { ActionOutcome, BuildEvents, ExecutionResult } from "./outcome";
export type { ExecuteOptions } from "./options";

/** remote cache lookups under way at once */
const REMOTE_LOOKUPS = 8;

/**
 * Runs the actions the targets need, each as soon as the actions producing its inputs are
 * done: a cache check first (inputs by digest, so an upstream re-run that produced the same
 * bytes leaves everything downstream cached), then, on a miss, a sandboxed execution.
 */
export async function executeActions(opts: ExecuteOptions): Promise<ExecutionResult> {
  return new Executor(opts).run();
}

function asHbError(e: unknown, owner: string, outputBase: string): HbError {
  if (e instanceof HbError) return e;
  return (
    asDiskFull(e, outputBase, `hb could not write ${owner}'s files`) ??
    new HbError("INTERNAL", `${owner}: ${(e as Error)?.stack ?? String(e)}`)
  );
}

class Executor implements Runner<Job> {
  private readonly graph: ActionGraph;
  private readonly outcomes: ActionOutcome[] = [];
  /** what is known of an action before the scheduler says it is finished */
  private readonly known = new Map<number, ActionOutcome>();
  private readonly startedAt = new Map<number, number>();
  private readonly staging: SandboxStaging;
  private readonly background = new Background((e) => (this.backgroundError ??= asHbError(e, "hb", this.opts.base.dir)));
  private backgroundError: HbError | undefined;
  /** the output base's database could not take this build's records */
  private storeError: unknown;
  private readonly outputs: BuildOutputs;
  private readonly results: ResultCache;
  private readonly forbidden: Forbidden;
  private toolchains = new Map<string, ResolvedToolchain>();
  private keyer!: ActionKeyer;
  /** how this build's lockfiles resolve, hb.lock.json's pins as the fetch step left them */
  private npm!: LockfilePolicy;
  private runs!: RunActions;
  private readonly remoteRuns: RemoteRuns | undefined;
  private scheduler: Scheduler<Job> | undefined;

  constructor(private readonly opts: ExecuteOptions) {
    this.graph = opts.graph;
    this.forbidden = forbiddenPaths(opts.root, [opts.base.dir, ...(opts.hidden ?? [])]);
    this.staging = new SandboxStaging({
      fallback: opts.base.sandboxDir,
      epoch: opts.sourceDateEpoch,
      reverse: opts.reverseStaging === true,
    });
    const materializer = opts.materialize !== false ? new Materializer(opts.root, opts.base.cas, opts.base.db) : undefined;
    this.outputs = new BuildOutputs(opts.base.cas, materializer, this.background, () => !opts.keepGoing && this.scheduler?.halt());
    this.results = new ResultCache(opts.base, opts.remote, opts.sourceDateEpoch);
    this.remoteRuns = opts.remoteRuns;
  }

  async run(): Promise<ExecutionResult> {
    // every action runs with umask 022 (bwrap and children inherit it): docs/ARCHITECTURE.md, Determinism
    process.umask(0o022);
    const { opts, graph } = this;
    // hb-out/ may be written from here on (by hb build or a watch's rebuild): a killed build's temp files go first
    const underway = opts.materialize !== false ? buildUnderway(opts.base.dir, opts.root, opts.base.cas.tmpDir) : undefined;
    const producer = producers(graph);
    const settled = opts.settled ?? new Map<number, ActionResult>();
    for (const result of settled.values()) this.outputs.take(result);
    const ids = actionsNeededBy(graph, opts.targets, producer, opts.extraOutputs).filter((id) => !settled.has(id));
    this.outputs.prepareDirs(ids.flatMap((id) => graph.actions[id]!.outputs));
    const strict = opts.mode === "strict";
    const { stats } = opts.base;
    const actions = ids.map((id) => graph.actions[id]!);
    this.toolchains = await resolveToolchains(
      actions.flatMap((a) => a.toolchains),
      opts.root,
      stats,
      strict,
      this.forbidden,
    );
    const strace = opts.audit ? await findStrace(stats, strict, this.forbidden) : undefined;
    const fetching = {
      network: opts.network !== false,
      locked: opts.lockedNpm,
      signal: opts.signal,
      epoch: opts.sourceDateEpoch,
      onFetch: opts.events?.fetching,
    };
    const fetched = await fetchStep(actions, opts.root, npmPolicy(opts.npm, opts.root), opts.base, fetching);
    if (fetched?.pinned) opts.events?.warning?.({ code: "PINNED_ON_FIRST_FETCH", file: HB_LOCK_FILE, count: fetched.pinned });
    // read after the fetch step: it pins what had no integrity into hb.lock.json
    const npm = npmPolicy(opts.npm, opts.root);
    this.npm = npm;
    this.keyer = new ActionKeyer({
      root: opts.root,
      stats: opts.base.stats,
      sourceDateEpoch: opts.sourceDateEpoch,
      stamp: opts.stamp,
      execProperties: opts.execProperties,
      npmInstallKey: (a) => npmInstallKey(a, opts.root, npm),
      toolchains: this.toolchains,
      forbidden: this.forbidden,
      generated: (p) => this.outputs.generated(p),
    });
    this.runs = new RunActions({
      root: opts.root,
      cas: opts.base.cas,
      staging: this.staging,
      sandbox: new ActionSandbox(join(opts.base.dir, "sandbox-etc")),
      background: this.background,
      toolchains: this.toolchains,
      strace,
      epoch: opts.sourceDateEpoch,
      signal: opts.signal,
      stopping: () => opts.signal.aborted || (this.scheduler?.isHalted ?? false),
      blobOf: (p, x) => this.outputs.blobOf(p, x),
      warn: (w) => opts.events?.warning?.(w),
    });
    const deps = (id: number) =>
      [...graph.actions[id]!.inputs, ...graph.actions[id]!.tools].flatMap((p) => producer.get(p) ?? []).filter((d) => !settled.has(d));
    const { jobs, keepGoing, signal } = opts;
    this.scheduler = new Scheduler(ids, deps, this, { jobs, remoteLookups: REMOTE_LOOKUPS, keepGoing, signal });
    // a batch that cannot be committed (a full disk) stops the build, which then fails saying why
    const stopBatching = opts.base.batchWrites((e) => {
      this.storeError ??= this.storeFailure(e);
      this.scheduler?.halt();
    });
    let failure: unknown;
    try {
      opts.events?.planned?.(ids.length);
      await this.scheduler.run();
      this.background.finish();
      for (const o of this.outputs.failUnmaterialized(this.outcomes)) opts.events?.outputsFailed?.(o);
      this.runs.discardAhead();
      if (this.backgroundError) opts.events?.warning?.({ code: "BACKGROUND", message: this.backgroundError.message });
      const warn = (w: Warning) => opts.events?.warning?.(w);
      forgetChangedToolchains(this.outcomes, this.toolchains.values(), stats, this.results, warn);
      await Promise.all([this.staging.close(), this.outputs.close(), this.results.settled()]);
      stats.flush();
    } catch (e) {
      failure = this.storeFailure(e);
    } finally {
      // stopped whatever happened (materializing on a full disk, say): its timer would keep hb alive
      try {
        stopBatching();
      } catch (e) {
        failure ??= this.storeFailure(e);
      }
    }
    // a batch the timer could not commit came first, and is why what followed failed
    if (this.storeError ?? failure) throw this.storeError ?? failure;
    underway?.done();
    return {
      outcomes: this.outcomes,
      outputs: this.outputs.files,
      interrupted: opts.signal.aborted,
      incidents: opts.base.cas.incidents,
      materialized: this.outputs.recorded(),
    };
  }

  private storeFailure(e: unknown): unknown {
    return asDiskFull(e, this.opts.base.dir, "hb could not record this build's results in its output base") ?? e;
  }

  prepare(id: number): Step<Job> {
    const a = this.graph.actions[id]!;
    const started = Date.now();
    try {
      const mode = actionSandboxMode(a, this.opts.mode, this.opts.allowUnsandboxed === true);
      const stageName = sha256Hex(a.outputs[0] ?? a.outputDirs[0] ?? String(a.id)).slice(0, 16);
      const keyed = this.keyer.key(a, mode, this.staging.dirFor(stageName, mode === "none"));
      const cacheable = this.opts.useCache !== false && !this.opts.audit && !a.tags.includes("no-cache");
      const hit = cacheable ? this.results.local(keyed.key) : undefined;
      if (hit && this.outputs.adopt(hit, a.owner)) {
        this.known.set(id, {
          action: a,
          status: "cached",
          key: keyed.key,
          material: keyed.material,
          result: hit,
          durationMs: Date.now() - started,
        });
        return { done: "cached" };
      }
      const signal = this.opts.actionSignal?.(a) ?? this.opts.signal;
      const job: Job = { id, action: a, keyed, stageName, writableAt: joinRel(OUT_DIR, parseLabel(a.owner).pkg), cacheable, signal };
      return cacheable && this.results.asksRemote(a) ? { remote: job } : { execute: job };
    } catch (e) {
      this.known.set(id, {
        action: a,
        status: "failed",
        error: asHbError(e, a.owner, this.opts.base.dir),
        durationMs: Date.now() - started,
      });
      return { done: "failed" };
    }
  }

  async lookupRemote(job: Job): Promise<boolean> {
    const started = Date.now();
    const hit = await this.results.fromRemote(job.action, job.keyed, (r) => this.outputs.adopt(r, job.action.owner));
    if (!hit) return false;
    const { key, material } = job.keyed;
    this.known.set(job.id, {
      action: job.action,
      status: "cached",
      key,
      material,
      result: hit.result,
      remote: { instance: hit.instance, keyId: hit.keyId },
      durationMs: Date.now() - started,
    });
    return true;
  }

  async execute(job: Job): Promise<ActionStatus> {
    const { action: a, keyed } = job;
    const started = Date.now();
    let result: ActionResult;
    let cacheable = true;
    let audit;
    if (a.kind === "run") {
      const runJob = job as Job<RunAction>;
      const run = (this.remoteRuns?.accepts(runJob) ? await this.remoteRuns.run(runJob) : undefined) ?? (await this.runs.run(runJob));
      if (run.interrupted || !run.result) {
        this.known.set(job.id, { action: a, status: "interrupted", key: keyed.key, durationMs: Date.now() - started });
        return "interrupted";
      }
      ({ cacheable, audit } = run);
      result = run.result;
    } else {
      const { root, base, sourceDateEpoch: epoch } = this.opts;
      result = builtinAction(a, { root, base, policy: this.npm!, epoch, mode: keyed.mode });
    }
    this.results.record(a, keyed, result, job.cacheable && cacheable);
    this.outputs.adoptFresh(a, result);
    const { key, material } = keyed;
    this.known.set(job.id, { action: a, status: "executed", key, material, result, audit, durationMs: Date.now() - started });
    return "executed";
  }

  failed(job: Job, e: unknown): void {
    const durationMs = Date.now() - (this.startedAt.get(job.id) ?? Date.now());
    this.known.set(job.id, {
      action: job.action,
      status: "failed",
      error: asHbError(e, job.action.owner, this.opts.base.dir),
      audit: this.runs.failedAudits.get(job.id),
      durationMs,
    });
  }

  started(job: Job): void {
    this.startedAt.set(job.id, Date.now());
    this.opts.events?.actionStarted?.(job.action);
  }

  waiting(job: Job): void {
    if (job.action.kind === "run") this.runs.stageAhead(job as Job<RunAction>);
  }

  finished(id: number, status: ActionStatus): void {
    const o = this.known.get(id) ?? { action: this.graph.actions[id]!, status, durationMs: 0 };
    o.status = status;
    this.outcomes.push(o);
    this.opts.events?.actionFinished?.(o);
  }

  stale(id: number): void {
    const a = this.graph.actions[id]!;
    try {
      this.outputs.removeStale(a);
    } catch (e) {
      // the build fails already; what stays in hb-out/ is named so it is not taken for this build's
      this.opts.events?.warning?.({ code: "STALE_OUTPUT_KEPT", label: a.owner, reason: asHbError(e, a.owner, this.opts.base.dir).message });
    }
  }
}
