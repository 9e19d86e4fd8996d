import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/*
 * The thread's whole program: one running sha256 per stream, fed the buffers it is handed, each
 * handed back once hashed so the stream can fill it again. It never reads a file or a socket: it
 * hashes exactly the bytes the request's thread wrote or sent.
 */
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.op === "update") {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash("sha256")));
    h.update(new Uint8Array(m.buffer, 0, m.length));
    parentPort.postMessage({ op: "hashed", id: m.id, buffer: m.buffer }, [m.buffer]);
  } else if (m.op === "end") {
    const h = hashes.get(m.id) || createHash("sha256");
    hashes.delete(m.id);
    parentPort.postMessage({ op: "digest", id: m.id, sha256: h.digest("hex") });
  } else if (m.op === "drop") {
    hashes.delete(m.id);
  }
});
`;

/** Bytes handed to the thread at a time. */
const SLICE = 1 << 20;
/** Slices one stream may have at the thread: past this, its producer waits (memory stays flat). */
const MAX_IN_FLIGHT = 8;

type Reply = { op: "hashed"; id: number; buffer: ArrayBuffer } | { op: "digest"; id: number; sha256: string };

/** The sha256 of one stream of bytes, computed on the digest thread. */
export interface StreamDigest {
  /** Takes a copy of `chunk`; false when the stream should wait for `ready()` before the next one. */
  update(chunk: Uint8Array): boolean;
  ready(): Promise<void>;
  /** The hex sha256 of everything given to `update`. */
  digest(): Promise<string>;
  /** Abandons the stream (its request ended early). */
  drop(): void;
}

interface StreamState {
  inFlight: number;
  waiters: (() => void)[];
  done?: { resolve(sha256: string): void; reject(e: Error): void };
  failed?: Error;
}

/**
 * sha256 of large bodies on a thread of its own, so the request's thread only moves bytes: on
 * the request's thread, hashing and socket or file writes take turns, and a 1 GiB upload or
 * download runs at a fraction of what the disk and the network allow. Each slice is copied into
 * a buffer that is transferred, not cloned, to the thread, so what is hashed is the bytes that
 * were written or sent, whatever happens to the file afterwards.
 */
export class DigestThread {
  private worker: Worker | undefined;
  private readonly streams = new Map<number, StreamState>();
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 0;

  start(): StreamDigest {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const state: StreamState = { inFlight: 0, waiters: [] };
    this.streams.set(id, state);
    let slice: Uint8Array | undefined;
    let filled = 0;
    const send = () => {
      if (!slice || filled === 0) return;
      const buffer = slice.buffer as ArrayBuffer;
      state.inFlight++;
      worker.postMessage({ op: "update", id, buffer, length: filled }, [buffer]);
      slice = undefined;
      filled = 0;
    };
    return {
      update: (chunk) => {
        if (state.failed) return true;
        for (let at = 0; at < chunk.length; ) {
          slice ??= new Uint8Array(this.spare.pop() ?? new ArrayBuffer(SLICE));
          const n = Math.min(SLICE - filled, chunk.length - at);
          slice.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === SLICE) send();
        }
        return state.inFlight < MAX_IN_FLIGHT;
      },
      ready: () =>
        state.inFlight < MAX_IN_FLIGHT || state.failed ? Promise.resolve() : new Promise<void>((resolve) => state.waiters.push(resolve)),
      digest: () => {
        if (state.failed) return Promise.reject(state.failed);
        send();
        return new Promise<string>((resolve, reject) => {
          state.done = { resolve, reject };
          worker.postMessage({ op: "end", id });
        });
      },
      drop: () => {
        if (!this.streams.delete(id)) return;
        if (slice) this.spare.push(slice.buffer as ArrayBuffer);
        slice = undefined;
        if (!state.failed) worker.postMessage({ op: "drop", id });
      },
    };
  }

  /** Stops the thread; a stream still being hashed fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error("the digest thread was stopped"));
    if (worker) await worker.terminate();
  }

  private failAll(e: Error): void {
    for (const state of this.streams.values()) {
      state.failed = e;
      state.done?.reject(e);
      for (const wake of state.waiters.splice(0)) wake();
    }
    this.streams.clear();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.unref();
    worker.on("message", (m: Reply) => {
      const state = this.streams.get(m.id);
      if (m.op === "hashed") {
        if (this.spare.length < MAX_IN_FLIGHT) this.spare.push(m.buffer);
        if (!state) return;
        state.inFlight--;
        if (state.inFlight < MAX_IN_FLIGHT) for (const wake of state.waiters.splice(0)) wake();
        return;
      }
      this.streams.delete(m.id);
      state?.done?.resolve(m.sha256);
    });
    const fail = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(e);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the digest thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

/** The same interface on the calling thread, for bodies too small to be worth a thread. */
export function inlineDigest(): StreamDigest {
  const hash = createHash("sha256");
  return {
    update: (chunk) => {
      hash.update(chunk);
      return true;
    },
    ready: () => Promise.resolve(),
    digest: () => Promise.resolve(hash.digest("hex")),
    drop: () => undefined,
  };
}
