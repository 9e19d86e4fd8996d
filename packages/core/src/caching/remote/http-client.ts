import { createReadStream, createWriteStream, statSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { HbError } from "../../base/errors";

export interface CacheEndpoint {
  /** the server, without credentials: http(s)://host:port[/prefix] */
  base: string;
  /** Authorization header value, if any */
  authorization?: string;
}

/** Splits credentials out of a cache URL: `http://user:TOKEN@host` (as Bazel takes them) or a bearer token. */
export function parseCacheUrl(url: string, token: string | undefined): CacheEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HbError("USAGE", `--remote-cache '${redact(url)}' is not a URL`, { hint: "e.g. http://cache.example.com:9092" });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new HbError("USAGE", `--remote-cache must be http(s), not ${u.protocol}`);
  let authorization: string | undefined;
  if (u.username || u.password) {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
    u.username = "";
    u.password = "";
  } else if (token) authorization = `Bearer ${token}`;
  return { base: u.toString().replace(/\/+$/, ""), authorization };
}

/** A URL fit for a message: never its credentials. */
export function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//***@");
}

export interface Response {
  status: number;
  body: IncomingMessage;
}

const TIMEOUT_MS = 10_000;

/** One HTTP request; `body` streams a file. Rejects on network errors and timeouts. */
export function send(ep: CacheEndpoint, method: string, path: string, body?: { file: string } | { bytes: Buffer }): Promise<Response> {
  const url = new URL(`${ep.base}${path}`);
  const headers: Record<string, string | number> = {};
  if (ep.authorization) headers.authorization = ep.authorization;
  if (body) {
    headers["content-length"] = "file" in body ? statSync(body.file).size : body.bytes.length;
    headers["content-type"] = "application/octet-stream";
  }
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: TIMEOUT_MS }, (res) => resolve({ status: res.statusCode ?? 0, body: res }));
    req.on("timeout", () => req.destroy(new Error(`timed out after ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    if (!body) req.end();
    else if ("bytes" in body) req.end(body.bytes);
    else createReadStream(body.file).on("error", reject).pipe(req);
  });
}

/** Reads a small body whole (AC entries). */
export async function readBody(res: IncomingMessage, limit = 64 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`response larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Streams a body to `file`, returning the sha256 of what arrived and its size. */
export async function saveBody(res: IncomingMessage, file: string): Promise<{ hash: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(res, tap, createWriteStream(file));
  return { hash: hash.digest("hex"), size };
}

export async function drain(res: IncomingMessage): Promise<void> {
  res.resume();
  await new Promise((r) => res.on("end", r).on("error", r).on("close", r));
}
