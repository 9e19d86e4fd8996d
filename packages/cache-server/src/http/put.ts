import type { KeyObject } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { keysFor } from "../auth/trusted-keys";
import { acEntryInfo } from "../protocol/ac-entry";
import { entryTrust } from "../protocol/entry-trust";
import { InvalidAcEntry } from "../protocol/invalid-entry";
import type { EntryKey } from "../storage/entry";
import { type ReceivedBody, receiveBody } from "./body";
import type { Exchange, ServerContext } from "./context";
import { Refusal } from "./refusal";
import { respond } from "./respond";

/** The Content-Length, if any; a request without one is chunked and checked while it streams. */
function declaredLength(x: Exchange): number | undefined {
  const header = x.req.headers["content-length"];
  if (header === undefined) return undefined;
  if (!/^\d+$/.test(header) || !Number.isSafeInteger(Number(header))) {
    throw new Refusal(400, "bad_request", "Content-Length is not a byte count");
  }
  return Number(header);
}

function stored(x: Exchange): void {
  // bazel-remote answers a successful PUT with 200 and no body; Bazel's upload handler
  // (HttpUploadHandler) accepts 200, 201, 202 and 204.
  respond(x, 200, "");
}

async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const file = await open(path, "wx", 0o444);
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Bodies from this size up are hashed on the digest thread. */
const LARGE_BODY = 1 << 20;
/**
 * What all uploads together may have queued for the disk: 1 MiB each (one upload at full speed)
 * while they are few, less each when many arrive at once, down to 128 KiB; past that the requests
 * are paused (TCP backpressure) rather than buffered.
 */
const FILE_BUFFER_BUDGET = 4 << 20;

function fileBuffer(ctx: ServerContext): number {
  return Math.max(128 << 10, Math.min(1 << 20, Math.floor(FILE_BUFFER_BUDGET / Math.max(1, ctx.metrics.uploadsInFlight))));
}

function receive(ctx: ServerContext, x: Exchange, limit: number, into: { file: string } | "memory" | "discard"): Promise<ReceivedBody> {
  const declared = declaredLength(x);
  if (declared !== undefined && declared > limit) {
    throw new Refusal(413, "too_large", `Content-Length ${declared} is over the limit of ${limit} bytes`);
  }
  // A client that waits for "100 Continue" sends its body only now, when nothing about the
  // request itself is refused: an unauthorized or oversized upload is never even sent.
  if (/100-continue/i.test(x.req.headers.expect ?? "")) x.res.writeContinue();
  return receiveBody(x.req, {
    declared,
    max: limit,
    into,
    ...(into !== "memory" && (declared === undefined || declared >= LARGE_BODY) ? { digest: ctx.digests.start() } : {}),
    fileBuffer: fileBuffer(ctx),
    slowClientMs: ctx.limits.slowClientMs,
    onBytes: (n) => {
      x.bytesIn += n;
      ctx.metrics.bytesIn += n;
    },
  });
}

/**
 * A CAS upload is stored only if its bytes hash to its name. A blob the store already holds
 * intact is hashed and discarded instead of written again (Bazel's HTTP client re-uploads).
 */
async function putCas(ctx: ServerContext, x: Exchange, key: EntryKey): Promise<void> {
  const limit = Math.min(ctx.limits.maxUpload, ctx.limits.maxSize);
  const temp = ctx.store.hasIntact(key) ? undefined : ctx.store.tempPath();
  let committed = false;
  try {
    const body = await receive(ctx, x, limit, temp ? { file: temp } : "discard");
    if (body.sha256 !== key.hash)
      throw new Refusal(400, "hash_mismatch", `the body's sha256 is ${body.sha256}, not the ${key.hash} it was uploaded as`);
    if (temp) {
      ctx.store.commit(key, temp, body.sha256, body.size);
      committed = true;
    } else {
      ctx.store.touch(key);
    }
    stored(x);
  } finally {
    if (temp && !committed) rmSync(temp, { force: true });
  }
}

/** Whether the entry stored under `key` is one a client trusting `keys` would use; unreadable is not. */
function storedEntryTrusted(ctx: ServerContext, key: EntryKey, keys: readonly KeyObject[]): boolean {
  let bytes: Buffer;
  try {
    bytes = readFileSync(ctx.store.pathOf(key));
    return entryTrust(bytes, acEntryInfo(bytes, key).format, keys).trusted;
  } catch {
    return false;
  }
}

/**
 * Synchronous, so nothing runs between the check and the commit that follows it: every blob
 * the entry names must be in the same instance's CAS with the same size, and an existing
 * entry is never replaced (write-once: the same bytes again is fine, other bytes are 409).
 * On an instance with trusted keys an entry must be signed by one of them (403), and an
 * existing entry that is not (stored before the keys were, or signed by a key since dropped)
 * holds its key for nobody: a trusted entry replaces it.
 */
function checkAc(ctx: ServerContext, key: EntryKey, body: ReceivedBody): "new" | "same" | "replace" {
  const { format, references } = acEntryInfo(body.bytes!, key);
  const keys = keysFor(ctx.trustedKeys(), key.instance);
  if (keys) {
    const trust = entryTrust(body.bytes!, format, keys);
    if (!trust.trusted) throw new Refusal(403, trust.reason, `instance "${key.instance}" refuses this entry: ${trust.message}`);
  }
  const missing = references.filter((d) => ctx.store.lookup({ instance: key.instance, kind: "cas", hash: d.hash })?.size !== d.size);
  if (missing.length > 0) {
    const names = missing.slice(0, 3).map((d) => `${d.hash}/${d.size}`);
    throw new Refusal(
      400,
      "missing_blob",
      `the entry refers to ${missing.length} blob(s) not in the CAS${key.instance ? ` of instance ${key.instance}` : ""}: ${names.join(", ")}${missing.length > 3 ? ", ..." : ""} (upload them first)`,
    );
  }
  const existing = ctx.store.lookup(key);
  if (!existing) return "new";
  if (existing.sha256 === body.sha256) return "same";
  if (keys && !storedEntryTrusted(ctx, key, keys)) return "replace";
  throw new Refusal(409, "ac_conflict", "an entry with other bytes is already stored under this key; AC entries are write-once");
}

async function putAc(ctx: ServerContext, x: Exchange, key: EntryKey): Promise<void> {
  const body = await receive(ctx, x, Math.min(ctx.limits.maxUpload, ctx.limits.maxAcEntry), "memory");
  try {
    if (checkAc(ctx, key, body) === "same") {
      ctx.store.touch(key);
      return stored(x);
    }
  } catch (e) {
    if (e instanceof InvalidAcEntry) throw new Refusal(400, e.reason, e.message);
    throw e;
  }
  const temp = ctx.store.tempPath();
  let committed = false;
  try {
    await writeDurably(temp, body.bytes!);
    // Checked again: while the file was written, another upload may have stored this key, an
    // eviction may have removed a blob the entry needs, or the trusted keys may have been reloaded.
    const check = checkAc(ctx, key, body);
    if (check !== "same") {
      if (check === "replace")
        ctx.log(`replaced AC entry ${key.instance ? `${key.instance}/` : ""}${key.hash}: it was not signed by a trusted key`);
      ctx.store.commit(key, temp, body.sha256, body.size);
      committed = true;
    }
    stored(x);
  } finally {
    if (!committed) rmSync(temp, { force: true });
  }
}

export async function handlePut(ctx: ServerContext, x: Exchange, key: EntryKey): Promise<void> {
  ctx.metrics.uploadsInFlight++;
  try {
    await (key.kind === "cas" ? putCas(ctx, x, key) : putAc(ctx, x, key));
  } finally {
    ctx.metrics.uploadsInFlight--;
  }
}
