import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { HbError } from "@hb/core/engine";
import { type AccessPolicy, LOOPBACK_OPEN_POLICY, loadTokensFile } from "../auth/policy";
import { type TrustedKeys, describeTrustedKeys, loadTrustedKeysFile } from "../auth/trusted-keys";
import { formatSize } from "../config/size";
import type { ServerContext } from "../http/context";
import { requestHandler } from "../http/handler";
import type { AccessLogSink } from "../log/access-log";
import { type CacheMetrics, countRefusal, newMetrics, renderMetrics } from "../metrics/metrics";
import { BlobStore, type StoreStats } from "../storage/blob-store";
import { DigestThread } from "../storage/digest-thread";
import { DownloadBuffers } from "../http/download-buffers";
import { isLoopbackHost } from "./loopback";
import type { GrpcServer } from "../grpc/grpc-server";
import { holdYoungGeneration } from "./young-generation";

export interface CacheServerOptions {
  /** where blobs and the index live; created if missing */
  dir: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port (see `CacheServer.port`) */
  port?: number;
  /** evict least recently used entries above this many bytes; default 10 GiB */
  maxSize?: number;
  /** refuse request bodies above this many bytes (413); default 4 GiB */
  maxUpload?: number;
  /** refuse AC entries above this many bytes (413); default 16 MiB */
  maxAcEntry?: number;
  /** the tokens file; without one the server only starts on loopback, open to anyone there */
  tokensFile?: string;
  /** per instance, the public keys hb entries must be signed with; without it no signature is checked */
  trustedKeysFile?: string;
  /** one call per request; default: none */
  accessLog?: AccessLogSink;
  /** the server's own messages (start, warnings, reloads, shutdown); default: none */
  log?: (message: string) => void;
  /** how often batched last-access times reach the index; default 1000 ms */
  accessFlushMs?: number;
  /** how long shutdown waits for requests in flight before cutting them; default 30 s */
  shutdownTimeoutMs?: number;
  /** REAPI v2 over gRPC on this port too (0: any free one); default: none */
  grpcPort?: number;
  /** actions the gRPC Execution service runs at once; default 0: a cache only */
  workers?: number;
  /** PEM certificate and key: gRPC over TLS */
  grpcTls?: { cert: string; key: string };
  /**
   * A client is dropped when its request's headers take longer than this, or its body (either
   * way) stalls for this long; default 60 s. Slowloris clients then hold nothing for long.
   */
  slowClientMs?: number;
}

export interface CacheStatus {
  healthy: boolean;
  state: "serving" | "closing";
  totalBytes: number;
  maxSize: number;
  casBlobs: number;
  acEntries: number;
  uploadsInFlight: number;
  uptimeSeconds: number;
}

export interface CacheServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** grpc(s)://host:port, when REAPI is served */
  readonly grpcUrl?: string;
  status(): CacheStatus;
  /** the Prometheus text of GET /metrics */
  metrics(): string;
  /** re-reads the tokens file; on an error keeps the tokens it had, logs why and returns false */
  reloadTokens(): boolean;
  /** re-reads the trusted keys file, the same way */
  reloadTrustedKeys(): boolean;
  /** stops accepting, lets requests in flight finish, closes the store */
  close(): Promise<void>;
}

const GiB = 2 ** 30;
/**
 * 1 MiB buffers for all large downloads together: enough for one download at full speed (it
 * uses six), and the server's memory flat under many (each then reads through its share, or a
 * small buffer of its own).
 */
const DOWNLOAD_BUFFERS = 8;

class HttpCacheServer implements CacheServer {
  readonly url: string;
  readonly port: number;
  grpc: GrpcServer | undefined;
  private policyNow: AccessPolicy;
  private trustedNow: TrustedKeys | undefined;
  private closing: Promise<void> | undefined;
  private readonly started = Date.now();
  readonly handling = new Set<Promise<void>>();

  constructor(
    private readonly http: Server,
    private readonly store: BlobStore,
    private readonly digests: DigestThread,
    private readonly counters: CacheMetrics,
    policy: AccessPolicy,
    trusted: TrustedKeys | undefined,
    private readonly opts: CacheServerOptions,
    private readonly log: (message: string) => void,
  ) {
    this.policyNow = policy;
    this.trustedNow = trusted;
    const address = http.address() as AddressInfo;
    this.port = address.port;
    this.url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  }

  get grpcUrl(): string | undefined {
    return this.grpc?.url;
  }

  get policy(): AccessPolicy {
    return this.policyNow;
  }

  get trustedKeys(): TrustedKeys | undefined {
    return this.trustedNow;
  }

  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  status(): CacheStatus {
    const s: StoreStats = this.store.stats();
    return {
      healthy: !this.isClosing,
      state: this.isClosing ? "closing" : "serving",
      totalBytes: s.totalBytes,
      maxSize: s.maxSize,
      casBlobs: s.casEntries,
      acEntries: s.acEntries,
      uploadsInFlight: this.counters.uploadsInFlight,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
    };
  }

  metrics(): string {
    return renderMetrics(this.counters, this.store.stats());
  }

  reloadTokens(): boolean {
    if (!this.opts.tokensFile) {
      this.log("no --tokens file to reload");
      return false;
    }
    try {
      this.policyNow = loadTokensFile(this.opts.tokensFile);
    } catch (e) {
      this.log(`WARNING: kept the previous tokens: ${(e as Error).message}`);
      return false;
    }
    this.log(`reloaded ${this.opts.tokensFile}: ${this.policyNow.tokens.length} tokens`);
    return true;
  }

  reloadTrustedKeys(): boolean {
    if (!this.opts.trustedKeysFile) return false;
    try {
      this.trustedNow = loadTrustedKeysFile(this.opts.trustedKeysFile);
    } catch (e) {
      this.log(`WARNING: kept the previous trusted keys: ${(e as Error).message}`);
      return false;
    }
    this.log(`reloaded ${this.opts.trustedKeysFile}: ${describeTrustedKeys(this.trustedNow)}`);
    return true;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // the listening socket is closed first: once this is logged, a new connection is refused
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      const grpcClosed = this.grpc?.close();
      this.http.closeIdleConnections();
      const inFlight = this.counters.uploadsInFlight;
      this.log(`shutting down${inFlight > 0 ? `: finishing ${inFlight} uploads in flight` : ""}`);
      const cut = setTimeout(() => {
        this.log("WARNING: requests still in flight at the shutdown timeout; closing their connections");
        this.http.closeAllConnections();
      }, this.opts.shutdownTimeoutMs ?? 30_000);
      await closed;
      clearTimeout(cut);
      // a handler whose client went away may still be between its last await and its commit;
      // one that never ends must not keep the server from stopping
      let giveUp: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        Promise.all(this.handling).then(() => true),
        new Promise<false>((resolve) => (giveUp = setTimeout(() => resolve(false), this.opts.shutdownTimeoutMs ?? 30_000))),
      ]);
      clearTimeout(giveUp);
      if (!waited) this.log(`WARNING: ${this.handling.size} requests did not finish by the shutdown timeout; stopping anyway`);
      await grpcClosed;
      this.store.close();
      await this.digests.close();
      this.log("stopped");
    })();
    return this.closing;
  }
}

/**
 * A request Node refused before it reached the handler: malformed (400) or its headers too late
 * (408). Counted as a refusal like any other; a connection the client reset is just closed.
 */
function clientError(metrics: CacheMetrics, e: NodeJS.ErrnoException, socket: Duplex): void {
  const reason = e.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "slow_client" : e.code?.startsWith("HPE_") ? "bad_request" : undefined;
  if (reason) {
    countRefusal(metrics, "", reason);
    if (socket.writable && (socket as Socket).bytesWritten === 0) {
      socket.write(
        `HTTP/1.1 ${reason === "slow_client" ? "408 Request Timeout" : "400 Bad Request"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    }
  }
  socket.destroy();
}

/** Starts the Bazel-protocol cache server and resolves once it listens. */
export async function startCacheServer(opts: CacheServerOptions): Promise<CacheServer> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? (() => {});
  let policy: AccessPolicy;
  if (opts.tokensFile) {
    policy = loadTokensFile(opts.tokensFile);
  } else if (isLoopbackHost(host)) {
    policy = LOOPBACK_OPEN_POLICY;
    log(`WARNING: no --tokens file: anyone who can reach ${host} may read AND write this cache`);
  } else {
    throw new HbError(
      "INSECURE_CACHE_SERVER",
      `refusing to serve on ${host} without a tokens file: anyone on the network could write cache entries`,
      {
        hint: "pass --tokens FILE, or --host 127.0.0.1 for a cache only this machine uses",
      },
    );
  }
  const trusted = opts.trustedKeysFile ? loadTrustedKeysFile(opts.trustedKeysFile) : undefined;
  const metrics = newMetrics();
  const slowClientMs = opts.slowClientMs ?? 60_000;
  const maxSize = opts.maxSize ?? 10 * GiB;
  const store = BlobStore.open({
    dir: opts.dir,
    maxSize,
    accessFlushMs: opts.accessFlushMs,
    events: {
      evicted(count, bytes) {
        metrics.evictions += count;
        metrics.evictedBytes += bytes;
      },
      corrupt(key, detail) {
        metrics.corruptEntries++;
        log(`WARNING: removed ${key.kind} entry ${key.instance ? `${key.instance}/` : ""}${key.hash}: ${detail}`);
      },
      log,
    },
  });
  let server: HttpCacheServer | undefined;
  holdYoungGeneration();
  const digests = new DigestThread(holdYoungGeneration);
  const ctx: ServerContext = {
    store,
    metrics,
    digests,
    downloadBuffers: new DownloadBuffers(DOWNLOAD_BUFFERS),
    limits: { maxUpload: opts.maxUpload ?? 4 * GiB, maxAcEntry: opts.maxAcEntry ?? 16 * 2 ** 20, maxSize, slowClientMs },
    policy: () => server!.policy,
    trustedKeys: () => server!.trustedKeys,
    status: () => server!.status(),
    closing: () => server?.isClosing ?? false,
    track: (handling) => {
      server!.handling.add(handling);
      void handling.finally(() => server!.handling.delete(handling));
    },
    log,
  };
  const handler = requestHandler(ctx, opts.accessLog ?? (() => {}));
  // how often Node looks for requests whose headers are late: a slowloris is dropped within
  // slowClientMs and a quarter of it
  const http = createServer({ connectionsCheckingInterval: Math.min(30_000, Math.max(50, slowClientMs / 4)) }, handler);
  // "Expect: 100-continue" is answered by the PUT handler once the request passed its checks
  http.on("checkContinue", handler);
  // An upload of gigabytes may take longer than Node's default of 5 minutes per request; a
  // connection is instead cut once its headers are late, or after slowClientMs without a byte
  // either way (a download whose client stopped reading: its buffers go back to the pool).
  http.requestTimeout = 0;
  http.headersTimeout = slowClientMs;
  http.timeout = slowClientMs;
  http.on("clientError", (e: NodeJS.ErrnoException, socket) => clientError(metrics, e, socket));
  // Bazel keeps connections in a pool: closing them after Node's default 5 s idle races its reuse.
  http.keepAliveTimeout = 60_000;
  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(opts.port ?? 0, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    store.close();
    const err = e as NodeJS.ErrnoException;
    throw new HbError("CACHE_SERVER_FAILED", `cannot listen on ${host}:${opts.port ?? 0}: ${err.code ?? err.message}`);
  }
  server = new HttpCacheServer(http, store, digests, metrics, policy, trusted, opts, log);
  // Once shutdown began, a connection whose last request just finished is idle: close it
  // rather than wait for the keep-alive timeout.
  http.on("request", (_req, res: ServerResponse) => {
    res.once("close", () => {
      if (server?.isClosing) setImmediate(() => http.closeIdleConnections());
    });
  });
  if (opts.grpcPort !== undefined) {
    try {
      // gRPC (its library is large) is loaded only by a server that serves it: every hb command imports this module
      const { startGrpcServer } = await import("../grpc/grpc-server");
      server.grpc = await startGrpcServer({
        store,
        policy: () => server!.policy,
        trustedKeys: () => server!.trustedKeys,
        onRefused: (reason) => countRefusal(metrics, "PUT", reason),
        host,
        port: opts.grpcPort,
        workers: opts.workers ?? 0,
        tls: opts.grpcTls,
        onCorrupt: () => metrics.corruptEntries++,
        onCall: (method) => metrics.grpcCalls.set(method, (metrics.grpcCalls.get(method) ?? 0) + 1),
      });
    } catch (e) {
      await server.close();
      throw e;
    }
    log(`serving REAPI v2 on ${server.grpc.url}${opts.workers ? ` with ${opts.workers} workers` : " (cache only)"}`);
  }
  if (trusted) log(`hb entries must be signed by the keys in ${trusted.source} (${describeTrustedKeys(trusted)})`);
  const s = store.stats();
  log(
    `serving ${opts.dir} on ${server.url} (${formatSize(s.totalBytes)} of ${formatSize(maxSize)} used, ${s.casEntries} blobs, ${s.acEntries} AC entries)`,
  );
  return server;
}
