import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Refusal } from "./refusal";

export interface ReceiveOptions {
  /** the Content-Length, when the request has one */
  declared: number | undefined;
  /** more bytes than this is refused (413) as soon as they arrive */
  max: number;
  /** where the bytes go: a new file (fsynced before this resolves), memory, or nowhere */
  into: { file: string } | "memory" | "discard";
  onBytes(n: number): void;
}

export interface ReceivedBody {
  size: number;
  sha256: string;
  /** the body, when received into memory */
  bytes?: Buffer;
}

/**
 * Receives a request body, hashing it as it streams: memory stays flat however large the body
 * is (the request is paused while the file is behind). Refuses, without reading further, a body
 * over `max` (413) and one that ends short of its Content-Length (400). On refusal the file is
 * closed and the caller removes it.
 */
export function receiveBody(req: IncomingMessage, opts: ReceiveOptions): Promise<ReceivedBody> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const file = typeof opts.into === "object" ? createWriteStream(opts.into.file, { flags: "wx", mode: 0o444, flush: true }) : undefined;

    const settle = (error: Error | undefined, body?: ReceivedBody) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onError);
      if (error) {
        req.pause();
        // The file is opened asynchronously: reject only once it is closed, or it could be
        // created after the caller removed it.
        if (file && !file.closed) {
          file.once("close", () => reject(error));
          file.destroy();
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
      hash.update(chunk);
      if (opts.into === "memory") {
        chunks.push(chunk);
      } else if (file && !file.write(chunk)) {
        req.pause();
        file.once("drain", () => req.resume());
      }
    };
    const onEnd = () => {
      if (opts.declared !== undefined && size !== opts.declared) {
        settle(new Refusal(400, "length_mismatch", `received ${size} bytes, Content-Length said ${opts.declared}`));
        return;
      }
      const body: ReceivedBody = { size, sha256: hash.digest("hex") };
      if (opts.into === "memory") body.bytes = Buffer.concat(chunks, size);
      if (!file) {
        settle(undefined, body);
        return;
      }
      // "close" comes after the fsync that `flush` asks for and the close(2)
      file.once("close", () => settle(undefined, body));
      file.end();
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
