import { Worker } from "node:worker_threads";

/**
 * Runs in the worker: makes each directory in order and marks it 1 when it made it (so it holds
 * nothing yet), 2 when it found it or could not make it (the materializer sees to that one).
 */
const WORKER_SOURCE = `
const { mkdirSync } = require("node:fs");
const { workerData } = require("node:worker_threads");
const marks = new Int32Array(workerData.marks);
workerData.dirs.forEach((dir, i) => {
  let mark = 2;
  try {
    if (mkdirSync(dir, { recursive: true }) !== undefined) mark = 1;
  } catch {}
  Atomics.store(marks, i, mark);
});
`;

/**
 * Makes directories on a thread of their own while the main thread goes on: on ext4 each new
 * directory costs an inode allocation that, a few seconds after a large delete (`rm -rf hb-out`),
 * scans past every inode freed recently (about a third of a restore's time, measured). The worker
 * writes nothing but directories and says, per directory, whether it made it.
 */
export class DirsAhead {
  private readonly index = new Map<string, number>();
  private readonly marks: Int32Array;
  private readonly worker: Worker;

  private constructor(dirs: readonly string[]) {
    dirs.forEach((d, i) => this.index.set(d, i));
    const marks = new SharedArrayBuffer(4 * dirs.length);
    this.marks = new Int32Array(marks);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dirs, marks } });
    // a worker that fails only leaves its directories to the materializer
    this.worker.on("error", () => undefined);
    this.worker.unref();
  }

  /**
   * Starts making `dirs`; undefined when no thread can be started (a pids limit, a permission
   * model): the materializer then makes them as it goes.
   */
  static start(dirs: readonly string[]): DirsAhead | undefined {
    try {
      return new DirsAhead(dirs);
    } catch {
      return undefined;
    }
  }

  /** Stops making directories: the build is over and its lock about to be released. */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  /** true when the worker made `dir` (nothing else is in it yet); false when it did not, or not yet. */
  made(dir: string): boolean {
    const i = this.index.get(dir);
    return i !== undefined && Atomics.load(this.marks, i) === 1;
  }
}
