// Clients for the memory, slow-client and load suites: large bodies generated on the fly (never
// held whole), readers and writers at a given rate or cut off midway, idle keep-alive
// connections, and raw sockets that trickle a request a byte at a time.
import { createHash } from "node:crypto";
import { type IncomingMessage, request as httpRequest } from "node:http";
import { type Socket, connect } from "node:net";

/** A blob of `size` bytes generated in 1 MiB chunks from `seed`: the same bytes each time it is read. */
export class GeneratedBlob {
  static readonly CHUNK = 1 << 20;
  readonly hash: string;

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    const h = createHash("sha256");
    for (const c of this.chunks()) h.update(c);
    this.hash = h.digest("hex");
  }

  *chunks(): Generator<Buffer> {
    const base = Buffer.alloc(GeneratedBlob.CHUNK);
    for (let i = 0; i < base.length; i += 4) base.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ Math.imul(this.seed + 1, 40503)) >>> 0, i);
    for (let at = 0, n = 0; at < this.size; at += GeneratedBlob.CHUNK, n++) {
      const c = Buffer.from(base.subarray(0, Math.min(GeneratedBlob.CHUNK, this.size - at)));
      if (c.length >= 8) c.writeUInt32LE(n, 0);
      yield c;
    }
  }
}

export interface Pace {
  /** bytes per second; unlimited without */
  bytesPerSecond?: number;
  /** hang up after this many bytes */
  abortAfter?: number;
}

export interface Transfer {
  status: number;
  bytes: number;
  sha256: string;
  /** the client hung up on purpose, as asked */
  aborted: boolean;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function target(base: string) {
  const u = new URL(base);
  return { host: u.hostname, port: Number(u.port) };
}

/** PUTs `blob`, at the pace given. */
export function upload(base: string, path: string, blob: GeneratedBlob, pace: Pace = {}, token?: string): Promise<Transfer> {
  const started = Date.now();
  const headers: Record<string, string | number> = { "Content-Length": blob.size };
  if (token) headers.Authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let aborted = false;
    const req = httpRequest({ ...target(base), method: "PUT", path, headers, agent: false });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: sent, sha256: "", aborted, ms: Date.now() - started }));
    });
    req.on("error", (e) => (aborted ? resolve({ status: 0, bytes: sent, sha256: "", aborted, ms: Date.now() - started }) : reject(e)));
    void (async () => {
      for (const chunk of blob.chunks()) {
        let c = chunk;
        if (pace.abortAfter !== undefined && sent + c.length > pace.abortAfter) c = c.subarray(0, pace.abortAfter - sent);
        if (!req.write(c)) await new Promise((r) => req.once("drain", r));
        sent += c.length;
        if (pace.abortAfter !== undefined && sent >= pace.abortAfter) {
          aborted = true;
          req.destroy();
          return;
        }
        if (pace.bytesPerSecond) await sleep((c.length / pace.bytesPerSecond) * 1000);
      }
      req.end();
    })().catch(reject);
  });
}

/** GETs `path`, reading at the pace given and hashing what arrives. */
export function download(base: string, path: string, pace: Pace = {}, token?: string): Promise<Transfer> {
  const started = Date.now();
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    let bytes = 0;
    let aborted = false;
    const req = httpRequest({ ...target(base), path, headers, agent: false }, (res: IncomingMessage) => {
      const done = () => resolve({ status: res.statusCode ?? 0, bytes, sha256: h.digest("hex"), aborted, ms: Date.now() - started });
      res.on("data", (c: Buffer) => {
        h.update(c);
        bytes += c.length;
        if (pace.abortAfter !== undefined && bytes >= pace.abortAfter) {
          aborted = true;
          req.destroy();
          done();
          return;
        }
        if (pace.bytesPerSecond) {
          res.pause();
          setTimeout(() => res.resume(), (c.length / pace.bytesPerSecond) * 1000);
        }
      });
      res.on("end", done);
      res.on("error", (e) => (aborted ? undefined : reject(e)));
    });
    req.on("error", (e) => (aborted ? undefined : reject(e)));
    req.end();
  });
}

/**
 * `n` connections that each made one keep-alive request and then sit idle. `close()` ends
 * them; `alive()` counts those the server has not closed.
 */
export async function idleConnections(base: string, n: number): Promise<{ alive(): number; close(): void }> {
  const { host, port } = target(base);
  const sockets: Socket[] = [];
  let closed = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = connect(port, host, () => s.write(`GET /status HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`));
      let answer = "";
      const onData = (c: Buffer) => {
        answer += c.toString("latin1");
        const end = answer.indexOf("\r\n\r\n");
        const length = /content-length: (\d+)/i.exec(answer);
        if (end >= 0 && length && answer.length >= end + 4 + Number(length[1])) {
          s.off("data", onData);
          resolve();
        }
      };
      s.on("data", onData);
      s.once("error", reject);
      s.once("close", () => closed++);
      sockets.push(s);
    });
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, open));
  return {
    alive: () => sockets.length - closed,
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export interface Trickle {
  /** how long until the server closed the connection */
  ms: number;
  /** what the server answered, if anything, before closing */
  answer: string;
  /** bytes the client got to send */
  sent: number;
}

/**
 * A slowloris client: sends `upfront` at once, then `trickled` one byte every `intervalMs`, until
 * the server closes the connection or `giveUpMs` passes.
 */
export function trickle(base: string, upfront: string, trickled: string, intervalMs: number, giveUpMs: number): Promise<Trickle> {
  const { host, port } = target(base);
  const started = Date.now();
  return new Promise((resolve) => {
    const bytes = Buffer.from(trickled);
    let sent = 0;
    let answer = "";
    let timer: NodeJS.Timeout | undefined;
    const s = connect(port, host);
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      s.destroy();
      resolve({ ms: Date.now() - started, answer, sent });
    };
    const giveUp = setTimeout(finish, giveUpMs);
    s.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    s.on("close", finish);
    s.on("error", () => undefined);
    const next = () => {
      if (sent >= bytes.length || s.destroyed) return;
      s.write(bytes.subarray(sent, sent + 1));
      sent++;
      timer = setTimeout(next, intervalMs);
    };
    s.on("connect", () => {
      s.write(upfront);
      next();
    });
  });
}

/** Nearest-rank percentile of `values` (sorted here), e.g. 0.99. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
