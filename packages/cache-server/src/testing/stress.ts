// Clients for the memory, slow-client and load suites: large bodies generated on the fly (never
// held whole), readers and writers at a given rate or cut off midway, idle keep-alive
// connections, and raw sockets that trickle a request a byte at a time.
import { createHash, randomBytes } from "node:crypto";
import { Agent, type IncomingMessage, request as httpRequest } from "node:http";
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

export interface LoadOptions {
  clients: number;
  seconds: number;
  /** the share of requests that are PUTs of new blobs; the rest GETs */
  putShare: number;
  /** the share of GETs for a blob the server does not have */
  missShare: number;
  minSize: number;
  maxSize: number;
  /** blobs uploaded before the clock starts, for the GETs to hit */
  seedBlobs: number;
  token?: string;
}

export interface LoadResult {
  requests: number;
  /** by kind: hit (GET 200 with the right bytes), miss (GET 404), put (200) */
  byKind: Record<"hit" | "miss" | "put", number>;
  /** anything else: a wrong status, wrong bytes, a network error; with what happened */
  errors: string[];
  bytes: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A size between min and max, log-uniform: many small blobs, some large, as build outputs are. */
function sizeBetween(rand: () => number, min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + rand() * (Math.log(max) - Math.log(min))));
}

/** A small seeded PRNG (mulberry32): the same mix of requests each run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * `clients` keep-alive clients, each issuing one request after another for `seconds`: PUTs of
 * new blobs, GETs of blobs the server has (checked byte for byte by their digest) and of blobs
 * it does not (404). Every request whose answer is not exactly that is an error.
 */
export async function runLoad(base: string, opts: LoadOptions): Promise<LoadResult> {
  const { host, port } = target(base);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.clients });
  const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  const send = (method: string, path: string, body?: Buffer) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(
        { host, port, method, path, agent, headers: body ? { ...headers, "Content-Length": body.length } : headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const rand = prng(21);
  const stored: string[] = [];
  for (let i = 0; i < opts.seedBlobs; i++) {
    const b = randomBytes(sizeBetween(rand, opts.minSize, opts.maxSize));
    const h = sha256(b);
    const r = await send("PUT", `/cas/${h}`, b);
    if (r.status !== 200) throw new Error(`seeding: PUT answered ${r.status}`);
    stored.push(h);
  }
  const result: LoadResult = {
    requests: 0,
    byKind: { hit: 0, miss: 0, put: 0 },
    errors: [],
    bytes: 0,
    seconds: 0,
    perSecond: 0,
    p50Ms: 0,
    p99Ms: 0,
    maxMs: 0,
  };
  const latencies: number[] = [];
  const started = Date.now();
  const until = started + opts.seconds * 1000;
  const client = async (id: number) => {
    const r = prng(1000 + id);
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      const roll = r();
      try {
        if (roll < opts.putShare) {
          const b = randomBytes(sizeBetween(r, opts.minSize, opts.maxSize));
          const h = sha256(b);
          const res = await send("PUT", `/cas/${h}`, b);
          if (res.status !== 200) result.errors.push(`PUT ${h.slice(0, 12)}: ${res.status} ${res.body.toString().slice(0, 100)}`);
          else {
            result.byKind.put++;
            stored.push(h);
          }
          result.bytes += b.length;
        } else if (r() < opts.missShare) {
          const res = await send("GET", `/cas/${sha256(Buffer.from(`missing ${id} ${r()}`))}`);
          if (res.status !== 404) result.errors.push(`GET of a missing blob: ${res.status}`);
          else result.byKind.miss++;
        } else {
          const h = stored[Math.floor(r() * stored.length)]!;
          const res = await send("GET", `/cas/${h}`);
          if (res.status !== 200 || sha256(res.body) !== h)
            result.errors.push(`GET ${h.slice(0, 12)}: ${res.status}, ${res.body.length} bytes`);
          else result.byKind.hit++;
          result.bytes += res.body.length;
        }
      } catch (e) {
        result.errors.push(`${(e as Error).message}`);
      }
      result.requests++;
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i)));
  agent.destroy();
  result.seconds = (Date.now() - started) / 1000;
  result.perSecond = result.requests / result.seconds;
  result.p50Ms = percentile(latencies, 0.5);
  result.p99Ms = percentile(latencies, 0.99);
  result.maxMs = Math.max(0, ...latencies);
  return result;
}
