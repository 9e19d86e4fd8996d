import { createWriteStream, fdatasync, openSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { type StreamDigest, inlineDigest } from "../storage/digest-thread";
import { Refusal } from "./refusal";

export interface ReceiveOptions {
  /** the Content-Length, when the request has one */
  declared: number | undefined;
  /** more bytes than this is refused (413) as soon as they arrive */
  max: number;
  /** where the bytes go: a new file (fsynced before this resolves), memory, or nowhere */
  into: { file: string } | "memory" | "discard";
  onBytes(n: number): void;
  /** where the body is hashed: on this thread unless given one on the digest thread */
  digest?: StreamDigest;
  /** how much may queue for the disk before the request is paused; default 1 MiB */
  fileBuffer?: number;
  /**
   * A client that sends less than MIN_PROGRESS bytes (or what is left) in any interval this long,
   * while the server was ready for more, is refused (408) and dropped: a body trickling in a byte
   * at a time holds a connection and an upload for nothing. None without.
   */
  slowClientMs?: number;
}

export interface ReceivedBody {
  size: number;
  sha256: string;
  /** the body, when received into memory */
  bytes?: Buffer;
}

/** How much of a large body may be written and not yet be on the disk. */
const SYNC_EVERY = 64 << 20;
/** What a body must deliver in each `slowClientMs` interval: a dead slow link, not a slow one. */
export const MIN_PROGRESS = 16 << 10;

/**
 * Receives a request body, hashing it as it streams: memory stays flat however large the body
 * is (the request is paused while the file or the digest is behind). Refuses, without reading
 * further, a body over `max` (413) and one that ends short of its Content-Length (400). On
 * refusal the file is closed and the caller removes it.
 */
export function receiveBody(req: IncomingMessage, opts: ReceiveOptions): Promise<ReceivedBody> {
  return new Promise((resolve, reject) => {
    const digest = opts.digest ?? inlineDigest();
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let fd: number | undefined;
    try {
      fd = typeof opts.into === "object" ? openSync(opts.into.file, "wx", 0o444) : undefined;
    } catch (e) {
      digest.drop();
      reject(e);
      return;
    }
    // a little may queue for the disk: pausing the request for every 64 KiB chunk halves the rate
    const file = fd === undefined ? undefined : createWriteStream("", { fd, flush: true, highWaterMark: opts.fileBuffer ?? 1 << 20 });
    // the disk writes a large body back while it arrives, not all of it in the fsync at the end;
    // an error there is the upload's error (the closing fsync would no longer report it)
    let syncedTo = 0;
    let sync: Promise<void> | undefined;
    const syncSome = () => {
      if (sync || fd === undefined || file!.bytesWritten - syncedTo < SYNC_EVERY) return;
      const upTo = file!.bytesWritten;
      sync = new Promise<void>((resolve, fail) =>
        fdatasync(fd, (e) => {
          sync = undefined;
          if (e) return fail(e);
          syncedTo = upTo;
          resolve();
        }),
      );
      sync.catch((e: Error) => settle(e));
    };
    let holds = 0;
    // whether the server held the request at some point of the current interval: then a slow
    // interval is the server's doing, not the client's
    let heldNow = false;
    let checkedAt = 0;
    const watchdog =
      opts.slowClientMs === undefined
        ? undefined
        : setInterval(() => {
            const expected = Math.min(MIN_PROGRESS, (opts.declared ?? Infinity) - checkedAt);
            if (!heldNow && holds === 0 && size - checkedAt < expected) {
              settle(new Refusal(408, "slow_client", `the body arrived too slowly: ${size - checkedAt} bytes in ${opts.slowClientMs} ms`));
            }
            checkedAt = size;
            heldNow = holds > 0;
          }, opts.slowClientMs);
    const hold = (until: Promise<void>) => {
      heldNow = true;
      if (holds++ === 0) req.pause();
      void until.then(() => {
        heldNow = true;
        if (--holds === 0 && !settled) req.resume();
      });
    };

    const settle = (error: Error | undefined, body?: ReceivedBody) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onError);
      if (error) {
        digest.drop();
        req.pause();
        // reject only once the file is closed: the caller removes it then
        if (file && !file.closed) {
          file.once("close", () => reject(error));
          // not while an fdatasync runs on its fd: the number could be another file's by then
          void (sync ?? Promise.resolve()).catch(() => undefined).then(() => file.destroy());
        } else {
          reject(error);
        }
      } else {
        resolve(body!);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      opts.onBytes(chunk.length);
      if (size > opts.max) {
        settle(new Refusal(413, "too_large", `the body is larger than the limit of ${opts.max} bytes`));
        return;
      }
      if (digest.error) {
        settle(digest.error);
        return;
      }
      if (!digest.update(chunk)) hold(digest.ready());
      if (opts.into === "memory") {
        chunks.push(chunk);
      } else if (file) {
        if (!file.write(chunk)) hold(new Promise((resolve) => file.once("drain", resolve)));
        syncSome();
      }
    };
    const onEnd = () => {
      if (opts.declared !== undefined && size !== opts.declared) {
        settle(new Refusal(400, "length_mismatch", `received ${size} bytes, Content-Length said ${opts.declared}`));
        return;
      }
      // "close" comes after the fsync that `flush` asks for and the close(2), which waits for a
      // sync still running on the fd
      const stored = file
        ? (sync ?? Promise.resolve()).then(
            () =>
              new Promise<void>((resolve) => {
                file.once("close", resolve);
                file.end();
              }),
          )
        : Promise.resolve();
      Promise.all([digest.digest(), stored]).then(
        ([sha256]) => {
          const body: ReceivedBody = { size, sha256 };
          if (opts.into === "memory") body.bytes = Buffer.concat(chunks, size);
          settle(undefined, body);
        },
        (e: Error) => settle(e),
      );
    };
    const onClose = () => {
      if (!req.complete) settle(new Refusal(400, "incomplete", `the request ended after ${size} bytes, before its body did`));
    };
    const onError = () => settle(new Refusal(400, "incomplete", `the request failed after ${size} bytes`));

    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", onError);
    file?.on("error", (e) => settle(e));
  });
}
