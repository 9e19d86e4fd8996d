import { readFileSync } from "node:fs";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HbError } from "@hb/core/engine";
import { ActionCacheService, ByteStreamService, CapabilitiesService, CasService, ExecutionService } from "@hb/core/reapi";
import type { AccessPolicy } from "../auth/policy";
import type { TrustedKeys } from "../auth/trusted-keys";
import type { RefusalReason } from "../http/refusal";
import type { BlobStore } from "../storage/blob-store";
import { GrpcBlobs } from "./blobs";
import { MAX_BATCH_BYTES, cacheServices } from "./cache-services";
import { executionService } from "./execution-service";
import { CommandRunner } from "./run-command";

export interface GrpcServerOptions {
  store: BlobStore;
  policy(): AccessPolicy;
  trustedKeys(): TrustedKeys | undefined;
  onRefused(reason: RefusalReason): void;
  host: string;
  port: number;
  /** actions run at once by Execute; 0: no Execution service (a cache only) */
  workers: number;
  /** PEM files: serve grpcs:// */
  tls?: { cert: string; key: string };
  onCorrupt?: (key: { instance: string; kind: string; hash: string }, detail: string) => void;
  /** each call as it arrives, by its method's name (FindMissingBlobs, Execute, ...) */
  onCall?: (method: string) => void;
}

export interface GrpcServer {
  readonly port: number;
  /** grpc://host:port, or grpcs:// */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * REAPI v2 over gRPC on the same store as the HTTP side: Capabilities, the CAS and ByteStream,
 * the action cache and, with workers, Execution. Tokens are the HTTP side's, presented as
 * `authorization` metadata.
 */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServer> {
  const blobs = new GrpcBlobs(opts.store, opts.onCorrupt);
  const ctx = { blobs, policy: opts.policy, trustedKeys: opts.trustedKeys, refused: opts.onRefused, execution: opts.workers > 0 };
  // a batch of MAX_BATCH_BYTES with its framing, and room for a ByteStream chunk of 1 MiB
  const server = new Server({ "grpc.max_receive_message_length": MAX_BATCH_BYTES + 1024 * 1024 });
  const services = cacheServices(ctx);
  const counted = <T extends object>(impl: T): T => counting(impl, opts.onCall);
  server.addService(CapabilitiesService, counted(services.capabilities!));
  server.addService(CasService, counted(services.cas!));
  server.addService(ActionCacheService, counted(services.actionCache!));
  server.addService(ByteStreamService, counted(services.byteStream!));
  if (opts.workers > 0) {
    const runner = new CommandRunner(blobs, opts.store.tempPath());
    server.addService(ExecutionService, counted(executionService(ctx, runner, opts.workers)));
  }
  const credentials = opts.tls
    ? ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(opts.tls.cert), private_key: readFileSync(opts.tls.key) }])
    : ServerCredentials.createInsecure();
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))),
  ).catch((e: Error) => {
    throw new HbError("CACHE_SERVER_FAILED", `cannot serve gRPC on ${host}:${opts.port}: ${e.message}`);
  });
  return {
    port,
    url: `${opts.tls ? "grpcs" : "grpc"}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(cut);
          resolve();
        });
      }),
  };
}

/** A service's handlers, each saying its method's name to `onCall` before it runs. */
function counting<T extends object>(impl: T, onCall: ((method: string) => void) | undefined): T {
  if (!onCall) return impl;
  return Object.fromEntries(
    Object.entries(impl).map(([name, handler]) => [
      name,
      (...args: unknown[]) => {
        onCall(name);
        return (handler as (...a: unknown[]) => unknown).apply(impl, args);
      },
    ]),
  ) as T;
}
