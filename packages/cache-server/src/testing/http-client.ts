// A small HTTP client for tests: full control over method, path (sent as is) and headers.
import { type IncomingHttpHeaders, request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** a Buffer is sent with its Content-Length; a stream as given (chunked unless headers say otherwise) */
  body?: Buffer | string | Readable;
  token?: string;
}

/** `path` is sent exactly as written: no normalization of "..", no percent-decoding. */
export function request(base: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const url = new URL(base);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const body = typeof opts.body === "string" ? Buffer.from(opts.body) : opts.body;
  if (Buffer.isBuffer(body)) headers["Content-Length"] ??= body.length;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: opts.method ?? "GET", path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else pipeline(body, req).catch(reject);
  });
}

export const get = (base: string, path: string, token?: string) => request(base, path, { token });
export const head = (base: string, path: string, token?: string) => request(base, path, { method: "HEAD", token });
export const put = (base: string, path: string, body: Buffer | string, token?: string) =>
  request(base, path, { method: "PUT", body, token });
