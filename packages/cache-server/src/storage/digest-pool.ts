import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/*
 * The thread's whole program. It reads through the fd it is given (fds belong to the process, so
 * the thread shares the request's open file; the caller keeps it open until the digest is back)
 * with positional reads, so it never moves a file offset another reader depends on.
 */
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { readSync } = require("node:fs");
const chunk = Buffer.allocUnsafe(1 << 20);
parentPort.on("message", ({ id, fd, size }) => {
  try {
    const hash = createHash("sha256");
    let at = 0;
    while (at < size) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      at += n;
    }
    parentPort.postMessage({ id, sha256: hash.digest("hex"), size: at });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

interface Job {
  resolve(d: { sha256: string; size: number }): void;
  reject(e: Error): void;
}

interface Thread {
  worker: Worker;
  jobs: Map<number, Job>;
}

interface Reply {
  id: number;
  sha256?: string;
  size?: number;
  error?: string;
}

/**
 * sha256 of large stored blobs on threads of their own. A GET hashes every byte it serves; on
 * the request's thread that hashing and the socket writes take turns, and a big download runs
 * at half the speed the disk and the network allow.
 */
export class DigestPool {
  private readonly threads: Thread[] = [];
  private nextId = 0;
  private readonly size = Math.max(1, Math.min(2, availableParallelism()));

  /** sha256 and length of the first `size` bytes of the open file `fd`. */
  digestFd(fd: number, size: number): Promise<{ sha256: string; size: number }> {
    const thread = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.jobs.set(id, { resolve, reject });
      thread.worker.postMessage({ id, fd, size });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  /** The least busy thread, started on first use. */
  private pick(): Thread {
    const idle = this.threads.find((t) => t.jobs.size === 0);
    if (idle) return idle;
    if (this.threads.length < this.size) return this.start();
    return this.threads.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  }

  private start(): Thread {
    const thread: Thread = { worker: new Worker(THREAD_SOURCE, { eval: true }), jobs: new Map() };
    thread.worker.unref();
    thread.worker.on("message", (m: Reply) => {
      const job = thread.jobs.get(m.id);
      thread.jobs.delete(m.id);
      if (!job) return;
      if (m.error !== undefined || m.sha256 === undefined) job.reject(new Error(m.error ?? "no digest"));
      else job.resolve({ sha256: m.sha256, size: m.size ?? 0 });
    });
    const fail = (e: Error) => {
      for (const job of thread.jobs.values()) job.reject(e);
      thread.jobs.clear();
      const at = this.threads.indexOf(thread);
      if (at >= 0) this.threads.splice(at, 1);
    };
    thread.worker.on("error", fail);
    thread.worker.on("exit", (code) => fail(new Error(`digest thread exited with ${code}`)));
    this.threads.push(thread);
    return thread;
  }
}
