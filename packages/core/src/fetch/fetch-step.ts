import { appendFileSync, createWriteStream, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { HbError } from "../base/errors";
import type { ActionSpec } from "../base/graph";
import type { OutputBase } from "../caching/output-base";
import type { LockfilePolicy } from "./npm-tree";
import { type FetchRequest, fetchRequests } from "./requests";
import type { Statement } from "../base/database";
import { type Integrity, checkIntegrity, parseIntegrity } from "../base/integrity";
import { HB_LOCK_FILE, addToHbLock } from "./hb-lock";

/** What the fetch step stored for a URL and its pin: a CAS blob. */
export interface FetchedBlob {
  hash: string;
  size: number;
}

export interface FetchSummary {
  fetched: number;
  cached: number;
  bytes: number;
  /** npm tarballs without an integrity, pinned on this first fetch into hb.lock.json */
  pinned: number;
}

export interface FetchStepOptions {
  /** may download what is not fetched yet; false: offline */
  network: boolean;
  /** pin nothing on first fetch: a tarball hb.lock.json does not pin fails the step (CI) */
  locked?: boolean;
  signal: AbortSignal;
  epoch: number;
  onFetch?: (url: string) => void;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 60_000;

/** (url, integrity) -> CAS blob: what the fetch step recorded. */
export class FetchStore {
  private readonly select: Statement;
  private readonly insert: Statement;

  constructor(private readonly base: OutputBase) {
    this.select = base.db.prepare("SELECT hash, size FROM fetched WHERE url = ? AND integrity = ?");
    this.insert = base.db.prepare("INSERT OR REPLACE INTO fetched (url, integrity, hash, size, fetched_ms) VALUES (?, ?, ?, ?, ?)");
  }

  /** The fetched blob, if it was recorded and is still (verified) in the CAS. */
  lookup(url: string, integrity: string): (FetchedBlob & { path: string }) | undefined {
    const row = this.select.get(url, integrity) as FetchedBlob | undefined;
    if (!row) return undefined;
    const path = this.base.cas.get({ hash: row.hash, size: row.size });
    return path ? { ...row, path } : undefined;
  }

  record(url: string, integrity: string, blob: FetchedBlob): void {
    this.insert.run(url, integrity, blob.hash, blob.size, Date.now());
  }
}

/** Streams a body to `file`, hashing as it goes: sha256 (the CAS name) and the pinned algorithm. */
async function download(
  url: string,
  file: string,
  pin: Pick<Integrity, "algorithm">,
  signal: AbortSignal,
): Promise<{ sha256: string; size: number; pinned: string }> {
  const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]), redirect: "follow" });
  if (!res.ok || !res.body) {
    const err = new HbError("FETCH_FAILED", `GET ${url}: HTTP ${res.status} ${res.statusText}`);
    (err as HbError & { permanent?: boolean }).permanent = res.status >= 400 && res.status < 500;
    throw err;
  }
  const sha256 = createHash("sha256");
  const pinned = createHash(pin.algorithm);
  let size = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sha256.update(chunk);
      pinned.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), hasher, createWriteStream(file));
  return { sha256: sha256.digest("hex"), size, pinned: pinned.digest("base64") };
}

/**
 * The fetch step: the one place network is allowed. Every request already fetched (recorded and
 * still in the CAS) is skipped; every other one is downloaded, checked against its pin before it
 * is stored, and logged to `fetch-log.jsonl` in the output base. With `network: false` a missing
 * one is an error saying to run `hb fetch`.
 */
/**
 * Before any action runs: every external input `actions` need is fetched (or already is), and
 * every lockfile is checked; an unpinned or tampered entry stops the build here.
 */
export async function fetchStep(
  actions: readonly ActionSpec[],
  root: string,
  policy: LockfilePolicy,
  base: OutputBase,
  opts: FetchStepOptions,
): Promise<FetchSummary | undefined> {
  const requests = fetchRequests(actions, root, policy);
  return requests.length > 0 ? runFetchStep(requests, base, root, opts) : undefined;
}

/**
 * Fetches what is not fetched yet. An npm tarball the lockfile gives no integrity (and
 * hb.lock.json no pin) is pinned by what this first fetch got: its sha512 goes into
 * hb.lock.json, which is reviewed and committed like the lockfile, and from then on checked.
 */
export async function runFetchStep(
  requests: readonly FetchRequest[],
  base: OutputBase,
  root: string,
  opts: FetchStepOptions,
): Promise<FetchSummary> {
  const unpinned = requests.filter((r) => r.integrity === "");
  if (opts.locked && unpinned.length > 0) {
    throw new HbError(
      "UNPINNED_DEPENDENCY",
      `${unpinned.length} npm tarball(s) have no integrity in their lockfile and no pin in ${HB_LOCK_FILE} (--locked pins nothing): ${unpinned
        .slice(0, 5)
        .map((r) => r.what)
        .join(", ")}${unpinned.length > 5 ? ", ..." : ""}`,
      { hint: `run hb fetch without --locked, review the pins it adds to ${HB_LOCK_FILE} and commit them` },
    );
  }
  const store = new FetchStore(base);
  const logPath = join(base.dir, "fetch-log.jsonl");
  const log = (entry: Record<string, unknown>) =>
    appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...entry }) + "\n");
  const todo = new Map<string, FetchRequest>();
  let cached = 0;
  for (const r of requests) {
    const key = `${r.url}\0${r.integrity}`;
    if (todo.has(key)) continue;
    if (store.lookup(r.url, r.integrity)) cached++;
    else todo.set(key, r);
  }
  if (todo.size > 0 && !opts.network) {
    const first = [...todo.values()][0]!;
    throw new HbError("NOT_FETCHED", `${todo.size} external input(s) are not fetched yet, e.g. ${first.url} (for ${first.what})`, {
      hint: "run `hb fetch <patterns>` (the one step with network), then build offline",
    });
  }
  let fetched = 0;
  let bytes = 0;
  const pins = new Map<string, string>();
  const queue = [...todo.values()];
  // the first failure stops the others from starting anything new; all finish before it is thrown
  let failure: unknown;
  const worker = async () => {
    for (let r = queue.shift(); r && failure === undefined; r = queue.shift()) {
      const pin = r.integrity ? parseIntegrity(r.integrity) : undefined;
      // unpinned: hashed as npm pins, and pinned by what it got
      const hashWith = pin ?? { algorithm: "sha512" as const, digest: "" };
      let lastError: unknown;
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        const tmp = base.cas.tempPath();
        try {
          opts.onFetch?.(r.url);
          const got = await download(r.url, tmp, hashWith, opts.signal);
          if (pin) {
            try {
              checkIntegrity(pin, got.pinned, `${r.url} (for ${r.what})`);
            } catch (e) {
              log({ url: r.url, integrity: r.integrity, sha256: got.sha256, bytes: got.size, result: "refused: integrity mismatch" });
              throw Object.assign(e as HbError, { permanent: true });
            }
          }
          base.cas.adopt(tmp, { hash: got.sha256, size: got.size }, opts.epoch);
          const integrity = pin ? r.integrity : `sha512-${got.pinned}`;
          if (!pin) pins.set(r.url, integrity);
          store.record(r.url, integrity, { hash: got.sha256, size: got.size });
          log({
            url: r.url,
            integrity,
            sha256: got.sha256,
            bytes: got.size,
            result: pin ? "fetched" : `fetched, pinned on first fetch into ${HB_LOCK_FILE}`,
          });
          fetched++;
          bytes += got.size;
          lastError = undefined;
          break;
        } catch (e) {
          rmSync(tmp, { force: true });
          lastError = e;
          if (opts.signal.aborted || (e as { permanent?: boolean }).permanent) break;
          await new Promise((res) => setTimeout(res, 200 * 2 ** attempt));
        }
      }
      if (lastError) {
        if (!(lastError instanceof HbError)) log({ url: r.url, integrity: r.integrity, result: `failed: ${(lastError as Error).message}` });
        failure ??=
          lastError instanceof HbError
            ? lastError
            : new HbError(
                "FETCH_FAILED",
                `could not fetch ${r.url} (for ${r.what}) after ${ATTEMPTS} attempts: ${(lastError as Error)?.cause ?? (lastError as Error).message}`,
                {
                  hint: "check the URL and the network; the build itself never uses the network",
                },
              );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  // what was pinned is kept even when another download failed: it is what was fetched
  if (pins.size > 0) addToHbLock(root, pins);
  if (failure !== undefined) throw failure;
  return { fetched, cached, bytes, pinned: pins.size };
}
