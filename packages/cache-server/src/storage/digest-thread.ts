import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/*
 * The thread's whole program: one running sha256 per stream, fed the buffers it is handed, each
 * handed back once hashed so that a stream can fill it again. It never reads a file or a socket:
 * it hashes exactly the bytes the request's thread wrote or sent.
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
/**
 * Slices in existence, for all streams together (being filled, at the thread, or spare): the
 * server's memory stays flat however many large bodies are in flight; past it, streams wait.
 */
export const SLICE_BUDGET = 8;

type Reply = { op: "hashed"; id: number; buffer: ArrayBuffer } | { op: "digest"; id: number; sha256: string };

/** The sha256 of one stream of bytes, computed on the digest thread. */
export interface StreamDigest {
  /**
   * Takes `chunk`: copied before this returns true; when it returns false, part of it is copied
   * only once `ready()` resolves, and the caller must leave its bytes alone until then.
   */
  update(chunk: Uint8Array): boolean;
  ready(): Promise<void>;
  /** The hex sha256 of everything given to `update`. */
  digest(): Promise<string>;
  /** Abandons the stream (its request ended early). */
  drop(): void;
  /** Set once the digest thread failed: the stream cannot give a digest. */
  readonly error: Error | undefined;
}

interface Stream {
  id: number;
  /** the slice being filled */
  slice: Uint8Array | undefined;
  filled: number;
  /** bytes taken but not yet copied: no slice was free */
  pending: Uint8Array | undefined;
  waiters: (() => void)[];
  /** digest() was called: no more bytes */
  ended?: boolean;
  done?: { resolve(sha256: string): void; reject(e: Error): void };
  error?: Error;
}

/**
 * sha256 of large bodies on a thread of its own, so that the request's thread only moves bytes:
 * on the request's thread, hashing and socket or file writes take turns, and a 1 GiB upload or
 * download runs at a fraction of what the disk and the network allow. Each slice of a body is
 * copied into a buffer that is transferred, not cloned, to the thread, so what is hashed is the
 * bytes that were written or sent, whatever happens to the file afterwards.
 */
export class DigestThread {
  private worker: Worker | undefined;
  private readonly streams = new Map<number, Stream>();
  private readonly spare: ArrayBuffer[] = [];
  private slices = 0;
  /** streams waiting for a slice, first come first served */
  private readonly queue: Stream[] = [];
  private nextId = 0;

  /** `threadStarted` runs each time the thread is (re)started. */
  constructor(private readonly threadStarted: () => void = () => {}) {}

  start(): StreamDigest {
    this.ensureWorker();
    const s: Stream = { id: this.nextId++, slice: undefined, filled: 0, pending: undefined, waiters: [] };
    this.streams.set(s.id, s);
    return {
      update: (chunk) => {
        if (s.error) return true;
        if (s.pending !== undefined) throw new Error("StreamDigest.update() called before ready() resolved");
        if (s.ended) throw new Error("StreamDigest.update() called after digest()");
        return this.take(s, chunk);
      },
      ready: () => (s.pending === undefined || s.error ? Promise.resolve() : new Promise<void>((resolve) => s.waiters.push(resolve))),
      digest: async () => {
        s.ended = true;
        if (s.pending !== undefined) await new Promise<void>((resolve) => s.waiters.push(resolve));
        if (s.error) throw s.error;
        this.send(s);
        return new Promise<string>((resolve, reject) => {
          s.done = { resolve, reject };
          this.worker!.postMessage({ op: "end", id: s.id });
        });
      },
      drop: () => {
        if (!this.streams.delete(s.id)) return;
        this.unqueue(s);
        if (s.slice) this.release(s.slice.buffer as ArrayBuffer);
        s.slice = undefined;
        s.pending = undefined;
        if (!s.error) this.worker?.postMessage({ op: "drop", id: s.id });
        s.error ??= new Error("the stream was dropped");
        for (const wake of s.waiters.splice(0)) wake();
      },
      get error() {
        return s.error;
      },
    };
  }

  /** Slice buffers in existence (at most SLICE_BUDGET, whatever the number of streams). */
  get slicesAllocated(): number {
    return this.slices;
  }

  /** Stops the thread; a stream still being hashed fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error("the digest thread was stopped"));
    if (worker) await worker.terminate();
  }

  /** Copies `chunk` into slices, sending each full one; false when part of it waits for a slice. */
  private take(s: Stream, chunk: Uint8Array): boolean {
    for (let at = 0; at < chunk.length;) {
      if (!s.slice) {
        const buffer = this.spare.pop() ?? (this.slices < SLICE_BUDGET ? (this.slices++, new ArrayBuffer(SLICE)) : undefined);
        if (!buffer) {
          s.pending = chunk.subarray(at);
          if (!this.queue.includes(s)) this.queue.push(s);
          // a half-filled slice must not sit in a stream that waits for its client (an upload
          // trickling in) while others wait for a slice: all of them go to the thread now
          for (const other of this.streams.values()) this.send(other);
          return false;
        }
        s.slice = new Uint8Array(buffer);
      }
      const n = Math.min(SLICE - s.filled, chunk.length - at);
      s.slice.set(chunk.subarray(at, at + n), s.filled);
      s.filled += n;
      at += n;
      if (s.filled === SLICE) this.send(s);
    }
    s.pending = undefined;
    if (this.queue.length > 0) this.send(s);
    return true;
  }

  private send(s: Stream): void {
    if (!s.slice || s.filled === 0) return;
    const buffer = s.slice.buffer as ArrayBuffer;
    this.worker!.postMessage({ op: "update", id: s.id, buffer, length: s.filled }, [buffer]);
    s.slice = undefined;
    s.filled = 0;
  }

  /** A slice is free again: the first waiting stream gets it. */
  private release(buffer: ArrayBuffer): void {
    this.spare.push(buffer);
    while (this.spare.length > 0 && this.queue.length > 0) {
      const s = this.queue.shift()!;
      if (s.pending !== undefined && this.take(s, s.pending)) for (const wake of s.waiters.splice(0)) wake();
    }
  }

  private unqueue(s: Stream): void {
    const at = this.queue.indexOf(s);
    if (at >= 0) this.queue.splice(at, 1);
  }

  private failAll(e: Error): void {
    for (const s of this.streams.values()) {
      s.error = e;
      s.pending = undefined;
      s.done?.reject(e);
      for (const wake of s.waiters.splice(0)) wake();
    }
    this.streams.clear();
    this.queue.length = 0;
    // slices at a dead thread never come back
    this.spare.length = 0;
    this.slices = 0;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.unref();
    worker.on("message", (m: Reply) => {
      if (m.op === "hashed") {
        this.release(m.buffer);
        return;
      }
      const s = this.streams.get(m.id);
      this.streams.delete(m.id);
      s?.done?.resolve(m.sha256);
    });
    const fail = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(e);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the digest thread exited with code ${code}`)));
    // the thread sets up V8 for itself once it runs, after this returns
    worker.once("online", () => this.threadStarted());
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
    error: undefined,
  };
}
