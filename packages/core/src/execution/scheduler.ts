import type { ActionStatus } from "./outcome";

// The order actions run in: each as soon as the actions it depends on are done, at most `jobs`
// executing and `remoteLookups` asking the team cache at once; a failure stops what depends on
// it, and, without keep-going, everything not yet started.

/** What to do with an action whose dependencies are all done: it is done, or it needs a job. */
export type Step<J> = { done: ActionStatus } | { remote: J } | { execute: J };

/** The work the scheduler hands out; it decides only when. A job names its action. */
export interface Runner<J extends { readonly id: number }> {
  /** keys the action and looks it up in the local cache (synchronous: it runs between spawns) */
  prepare(id: number): Step<J>;
  /** the team cache: true for a usable hit (the action is then cached) */
  lookupRemote(job: J): Promise<boolean>;
  /** executed, failed or interrupted; a rejection counts as failed */
  execute(job: J): Promise<ActionStatus>;
  /** a job rejected: records why it failed */
  failed(job: J, error: unknown): void;
  /** a job starts executing */
  started?(job: J): void;
  /** a job waits for a free slot (its sandbox can be laid out meanwhile) */
  waiting?(job: J): void;
  /** the status of every action, once: the ones it never got to as skipped or interrupted */
  finished(id: number, status: ActionStatus): void;
  /** an action failed, or was skipped for a failure: what it made before is stale */
  stale?(id: number): void;
}

export interface ScheduleOptions {
  jobs: number;
  remoteLookups: number;
  keepGoing: boolean;
  signal: AbortSignal;
}

export class Scheduler<J extends { readonly id: number }> {
  private readonly remaining = new Map<number, number>();
  private readonly dependents = new Map<number, number[]>();
  private readonly ready: number[] = [];
  private readonly finished = new Set<number>();
  private readonly execQueue: J[] = [];
  private readonly remoteQueue: J[] = [];
  private running = 0;
  private remoteRunning = 0;
  private halted = false;
  private resolve!: () => void;

  constructor(
    /** the actions to run, and for each the actions it depends on (among them) */
    private readonly ids: readonly number[],
    deps: (id: number) => Iterable<number>,
    private readonly runner: Runner<J>,
    private readonly opts: ScheduleOptions,
  ) {
    for (const id of ids) {
      const ds = new Set(deps(id));
      this.remaining.set(id, ds.size);
      for (const d of ds) {
        if (!this.dependents.has(d)) this.dependents.set(d, []);
        this.dependents.get(d)!.push(id);
      }
      if (ds.size === 0) this.ready.push(id);
    }
  }

  /** Runs until every action is done or the build stops; resolves when nothing is running. */
  run(): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.opts.signal.addEventListener("abort", () => setImmediate(() => this.settle()), { once: true });
      this.drain();
    });
  }

  /** Starts nothing new (a failure found outside an action's run, without keep-going). */
  halt(): void {
    this.halted = true;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  private get stopped(): boolean {
    return this.halted || this.opts.signal.aborted;
  }

  private complete(id: number, status: ActionStatus): void {
    if (this.finished.has(id)) return;
    this.finished.add(id);
    this.runner.finished(id, status);
    if (status === "executed" || status === "cached") {
      for (const d of this.dependents.get(id) ?? []) {
        const left = this.remaining.get(d)! - 1;
        this.remaining.set(d, left);
        if (left === 0) this.ready.push(d);
      }
    } else if (status === "failed") {
      if (!this.opts.keepGoing) this.halted = true;
      // what it and everything downstream made before no longer stands for their inputs (a test's
      // passing log); an interrupted build keeps them
      if (!this.opts.signal.aborted) this.runner.stale?.(id);
      const stack = [...(this.dependents.get(id) ?? [])];
      while (stack.length > 0) {
        const d = stack.pop()!;
        if (this.finished.has(d)) continue;
        if (!this.opts.signal.aborted) this.runner.stale?.(d);
        this.complete(d, "skipped");
        stack.push(...(this.dependents.get(d) ?? []));
      }
    }
  }

  private drain(): void {
    while (this.ready.length > 0 && !this.stopped) {
      const id = this.ready.shift()!;
      const step = this.runner.prepare(id);
      if ("done" in step) this.complete(id, step.done);
      else if ("remote" in step) this.remoteQueue.push(step.remote);
      else this.execQueue.push(step.execute);
    }
    // a local miss asks the team cache first, a few at a time (network waits, not CPU)
    while (this.remoteQueue.length > 0 && this.remoteRunning < this.opts.remoteLookups && !this.stopped) {
      const job = this.remoteQueue.shift()!;
      this.remoteRunning++;
      const back = (hit: boolean) => {
        this.remoteRunning--;
        if (hit) this.complete(job.id, "cached");
        else this.execQueue.push(job);
        this.drain();
      };
      this.runner.lookupRemote(job).then(back, () => back(false));
    }
    while (this.execQueue.length > 0 && this.running < this.opts.jobs && !this.stopped) {
      const job = this.execQueue.shift()!;
      this.running++;
      this.runner.started?.(job);
      this.runner.execute(job).then(
        (status) => {
          this.running--;
          this.complete(job.id, status);
          this.drain();
        },
        (e: unknown) => {
          this.running--;
          this.runner.failed(job, e);
          this.complete(job.id, "failed");
          this.drain();
        },
      );
    }
    for (const job of this.execQueue.slice(0, this.opts.jobs)) this.runner.waiting?.(job);
    this.settle();
  }

  /** Once nothing runs and nothing more will start: every action left is skipped, or interrupted. */
  private settle(): void {
    if (this.running > 0 || this.remoteRunning > 0) return;
    if (!this.stopped && (this.ready.length > 0 || this.execQueue.length > 0 || this.remoteQueue.length > 0)) return;
    for (const id of this.ids) if (!this.finished.has(id)) this.complete(id, this.opts.signal.aborted ? "interrupted" : "skipped");
    this.resolve();
  }
}
