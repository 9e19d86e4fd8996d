import type { IncomingMessage, ServerResponse } from "node:http";
import { authenticate, identityName, permits } from "../auth/access";
import type { Scope } from "../auth/policy";
import type { AccessLogSink } from "../log/access-log";
import { countRefusal, countRequest, renderMetrics } from "../metrics/metrics";
import type { Exchange, ServerContext } from "./context";
import { handleGet } from "./get";
import { handlePut } from "./put";
import { handleDelete } from "./delete";
import { REFUSAL_HEADER, Refusal } from "./refusal";
import { respond, respondText } from "./respond";
import { type Route, routeOf } from "./route";

const MAX_LOGGED_PATH = 256;

function scopeOf(method: string, route: Route): Scope {
  if (method === "GET" || method === "HEAD") return "read";
  if (method === "DELETE" && route.type === "entry" && route.key.kind === "ac") return "admin";
  // anything else is treated as a write until it is refused (405)
  return "write";
}

function methodNotAllowed(allowed: string): Refusal {
  return new Refusal(405, "method_not_allowed", `allowed: ${allowed}`);
}

/**
 * Authorization comes before anything else about the request: 401 for a missing (where
 * anonymous access does not reach), malformed or unknown token, 403 for a known token without
 * the scope or the instance. Only then is the path, and after it the body, looked at.
 */
async function dispatch(ctx: ServerContext, x: Exchange): Promise<void> {
  const route = routeOf(x.req.url ?? "/");
  if (route.type === "status") {
    if (x.method !== "GET" && x.method !== "HEAD") throw methodNotAllowed("GET, HEAD");
    return respond(x, 200, `${JSON.stringify(ctx.status(), null, 1)}\n`, { "Content-Type": "application/json" });
  }
  const policy = ctx.policy();
  const scope = scopeOf(x.method, route);
  const auth = authenticate(policy, x.req.headers.authorization);
  if (!auth.ok) throw new Refusal(401, "unauthorized", auth.message);
  const { identity } = auth;
  x.tokenName = identityName(identity);
  const deny = (what: string): Refusal =>
    identity.kind === "anonymous"
      ? new Refusal(401, "unauthorized", `${what} needs a token`)
      : new Refusal(403, "forbidden", `token ${identityName(identity)} may not ${what}`);
  if (!permits(policy, identity, scope)) throw deny(scope);
  if (route.type === "metrics") {
    if (x.method !== "GET" && x.method !== "HEAD") throw methodNotAllowed("GET, HEAD");
    return respond(x, 200, renderMetrics(ctx.metrics, ctx.store.stats()), { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  }
  if (route.type === "bad") throw new Refusal(400, "bad_path", route.message);
  const { key } = route;
  x.instance = key.instance;
  if (!permits(policy, identity, scope, key.instance)) throw deny(`${scope} instance "${key.instance}"`);
  if (x.method === "GET" || x.method === "HEAD") return handleGet(ctx, x, key);
  if (x.method === "PUT") return handlePut(ctx, x, key);
  if (x.method === "DELETE" && key.kind === "ac") return handleDelete(ctx, x, key);
  throw methodNotAllowed(key.kind === "ac" ? "GET, HEAD, PUT, DELETE" : "GET, HEAD, PUT");
}

function refuse(ctx: ServerContext, x: Exchange, r: Refusal): void {
  x.reason = r.reason;
  countRefusal(ctx.metrics, x.method, r.reason);
  if (x.res.headersSent) return;
  const headers: Record<string, string> = {};
  if (r.status === 401) headers["WWW-Authenticate"] = 'Basic realm="hb cache", charset="UTF-8"';
  if (r.status === 405) headers.Allow = r.message.replace(/^allowed: /, "");
  // the reason as a stable label: a client tells a refused signature from a refused token
  headers[REFUSAL_HEADER] = r.reason;
  // an upload refused before its body was read is not read just to be discarded: the connection ends
  respond(x, r.status, x.method === "HEAD" ? "" : `${r.message}\n`, headers, x.method === "PUT" && !x.req.complete);
}

function logLine(x: Exchange, sink: AccessLogSink): void {
  const url = x.req.url ?? "";
  const path = url.split("?")[0]!;
  sink({
    time: new Date().toISOString(),
    method: x.method,
    path: path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}...` : path,
    instance: x.instance,
    status: x.res.statusCode,
    bytesIn: x.bytesIn,
    bytesOut: x.bytesOut,
    durationMs: Number((process.hrtime.bigint() - x.startedNs) / 1000n) / 1000,
    tokenName: x.tokenName,
    remote: x.req.socket.remoteAddress ?? "",
    ...(x.reason ? { reason: x.reason } : {}),
  });
}

/** The server's request listener: routes, refuses, logs one access-log line per request. */
export function requestHandler(ctx: ServerContext, accessLog: AccessLogSink) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const x: Exchange = {
      req,
      res,
      method: req.method ?? "",
      startedNs: process.hrtime.bigint(),
      instance: null,
      tokenName: "-",
      bytesIn: 0,
      bytesOut: 0,
    };
    if (ctx.closing()) res.setHeader("Connection", "close");
    res.once("close", () => {
      countRequest(ctx.metrics, x.method, res.statusCode);
      logLine(x, accessLog);
    });
    const handling = dispatch(ctx, x).catch((e: unknown) => {
      if (e instanceof Refusal) return refuse(ctx, x, e);
      if ((e as NodeJS.ErrnoException).code === "ENOSPC") {
        ctx.log(`WARNING: the disk is full: ${x.method} ${req.url} failed`);
        return refuse(ctx, x, new Refusal(507, "disk_full", "the cache's disk is full"));
      }
      ctx.log(`internal error on ${x.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      if (res.headersSent) res.destroy();
      else respondText(x, 500, "internal error", true);
    });
    ctx.track(handling);
  };
}
