import { createHash } from "node:crypto";
import { closeSync, createReadStream, readSync } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Digest } from "@hb/core";
import { acEntryInfo } from "../protocol/ac-entry";
import { InvalidAcEntry } from "../protocol/invalid-entry";
import type { EntryKey } from "../storage/entry";
import type { OpenEntry } from "../storage/blob-store";
import type { StreamDigest } from "../storage/digest-thread";
import type { Exchange, ServerContext } from "./context";
import { respondText } from "./respond";

/** Blobs up to this size are read and checked whole before the response starts. */
const SMALL_ENTRY = 256 * 1024;

function readWhole(opened: OpenEntry): Buffer {
  const buf = Buffer.allocUnsafe(opened.row.size);
  let at = 0;
  while (at < buf.length) {
    const n = readSync(opened.fd, buf, at, buf.length - at, at);
    if (n === 0) break;
    at += n;
  }
  return at === buf.length ? buf : buf.subarray(0, at);
}

/**
 * Passes a large blob through while it is hashed (on the digest thread, from a copy of each
 * chunk as it goes out), holding back its last chunk until the digest is known: a blob whose
 * bytes do not match its name fails the stream before the response is complete, so a client
 * never receives it as a whole, valid body.
 */
class VerifyingStream extends Transform {
  private held: Buffer | undefined;
  mismatch = false;

  constructor(
    private readonly digest: StreamDigest,
    private readonly expected: string,
    private readonly onForward: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.digest.error) {
      done(this.digest.error);
      return;
    }
    const more = this.digest.update(chunk);
    if (this.held) this.forward(this.held);
    this.held = chunk;
    if (more) done();
    else void this.digest.ready().then(() => done());
  }

  override _flush(done: TransformCallback): void {
    this.digest.digest().then(
      (sha256) => {
        if (sha256 !== this.expected) {
          this.mismatch = true;
          done(new Error("stored bytes do not match their digest"));
          return;
        }
        if (this.held) this.forward(this.held);
        done();
      },
      (e: Error) => done(e),
    );
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.digest.drop();
    done(error);
  }

  private forward(chunk: Buffer): void {
    this.onForward(chunk.length);
    this.push(chunk);
  }
}

function miss(ctx: ServerContext, x: Exchange, key: EntryKey): void {
  ctx.metrics.misses[key.kind]++;
  respondText(x, 404, "Not found");
}

function corrupt(ctx: ServerContext, key: EntryKey, opened: OpenEntry): void {
  ctx.store.discardCorrupt(key, opened.row.ino, "its bytes no longer match the digest they were stored with");
}

/**
 * An AC entry is answered only while every blob it refers to is still in the CAS, as
 * bazel-remote's validated AC reads do (GetValidatedActionResult: 404 otherwise). An entry whose
 * blobs were evicted is dropped, so the client runs the action and uploads afresh.
 */
function acEntryUsable(ctx: ServerContext, key: EntryKey, bytes: Buffer): boolean {
  let references: Digest[];
  try {
    references = acEntryInfo(bytes, key).references;
  } catch (e) {
    if (e instanceof InvalidAcEntry) return false;
    throw e;
  }
  const cas = (hash: string): EntryKey => ({ instance: key.instance, kind: "cas", hash });
  if (references.some((d) => ctx.store.lookup(cas(d.hash))?.size !== d.size)) return false;
  for (const d of references) ctx.store.touch(cas(d.hash));
  return true;
}

/** Counts a hit and sends its status line; the caller sends the body. */
function startHit(ctx: ServerContext, x: Exchange, key: EntryKey, size: number): void {
  ctx.store.touch(key);
  ctx.metrics.hits[key.kind]++;
  x.res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size });
}

/** The whole entry, or undefined (and the entry removed) when its bytes do not match its digest. */
function readVerified(ctx: ServerContext, key: EntryKey, opened: OpenEntry): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readWhole(opened);
  } finally {
    closeSync(opened.fd);
  }
  if (bytes.length === opened.row.size && createHash("sha256").update(bytes).digest("hex") === opened.row.sha256) return bytes;
  corrupt(ctx, key, opened);
  return undefined;
}

async function streamVerified(ctx: ServerContext, x: Exchange, key: EntryKey, opened: OpenEntry): Promise<void> {
  startHit(ctx, x, key, opened.row.size);
  const verify = new VerifyingStream(ctx.digests.start(), opened.row.sha256, (n) => {
    x.bytesOut += n;
    ctx.metrics.bytesOut += n;
  });
  try {
    await pipeline(createReadStream(opened.path, { fd: opened.fd, start: 0, end: opened.row.size - 1, highWaterMark: 1 << 20 }), verify, x.res);
  } catch {
    // The status line is out: all that is left is to cut the body short, which pipeline did.
    if (verify.mismatch) corrupt(ctx, key, opened);
  }
}

/**
 * GET and HEAD of an entry. A hit is 200 with Content-Length (HEAD: headers only), a miss 404,
 * as bazel-remote answers (server/http.go: http.StatusNotFound for a missing key, Content-Length
 * on HEAD hits). Every byte served is checked against the digest it was stored with.
 */
export async function handleGet(ctx: ServerContext, x: Exchange, key: EntryKey): Promise<void> {
  const opened = await ctx.store.open(key);
  if (!opened) return miss(ctx, x, key);
  if (key.kind === "cas" && x.method === "HEAD") {
    closeSync(opened.fd);
    startHit(ctx, x, key, opened.row.size);
    x.res.end();
    return;
  }
  if (key.kind === "cas" && opened.row.size > SMALL_ENTRY) return streamVerified(ctx, x, key, opened);
  const bytes = readVerified(ctx, key, opened);
  if (!bytes) return miss(ctx, x, key);
  if (key.kind === "ac" && !acEntryUsable(ctx, key, bytes)) {
    ctx.store.remove(key);
    ctx.log(`dropped AC entry ${key.instance ? `${key.instance}/` : ""}${key.hash}: blobs it refers to are gone`);
    return miss(ctx, x, key);
  }
  startHit(ctx, x, key, bytes.length);
  if (x.method === "HEAD") {
    x.res.end();
    return;
  }
  x.bytesOut = bytes.length;
  ctx.metrics.bytesOut += bytes.length;
  x.res.end(bytes);
}
