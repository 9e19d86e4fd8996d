import type { OutgoingHttpHeaders } from "node:http";
import type { Exchange } from "./context";

/**
 * A complete small response. Every response carries Content-Length (Bazel's download handler
 * fails one that has neither it nor chunked encoding). `close` ends the connection afterwards:
 * used when a request body was refused unread, so it is not read just to be thrown away.
 */
export function respond(x: Exchange, status: number, body: string | Buffer, headers: OutgoingHttpHeaders = {}, close = false): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const all: OutgoingHttpHeaders = { "Content-Type": "text/plain; charset=utf-8", ...headers, "Content-Length": bytes.length };
  if (close) all.Connection = "close";
  x.res.writeHead(status, all);
  x.res.end(x.method === "HEAD" ? undefined : bytes);
}

export function respondText(x: Exchange, status: number, message: string, close = false): void {
  respond(x, status, x.method === "HEAD" ? "" : `${message}\n`, {}, close);
}
