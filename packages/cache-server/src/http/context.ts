import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessPolicy } from "../auth/policy";
import type { TrustedKeys } from "../auth/trusted-keys";
import type { CacheMetrics } from "../metrics/metrics";
import type { BlobStore } from "../storage/blob-store";
import type { DigestThread } from "../storage/digest-thread";
import type { DownloadBuffers } from "./download-buffers";
import type { RefusalReason } from "./refusal";

export interface Limits {
  /** the largest request body */
  readonly maxUpload: number;
  /** the largest AC entry (it is read into memory to be checked) */
  readonly maxAcEntry: number;
  /** the store's size limit: a larger blob could never be kept */
  readonly maxSize: number;
  /** the interval in which a client must send its headers, and a body move at all (see receiveBody) */
  readonly slowClientMs: number;
}

/** What every request handler shares. */
export interface ServerContext {
  readonly store: BlobStore;
  readonly metrics: CacheMetrics;
  readonly limits: Limits;
  /** where large bodies are hashed, off the request's thread */
  readonly digests: DigestThread;
  /** what large downloads read into, all of them together */
  readonly downloadBuffers: DownloadBuffers;
  policy(): AccessPolicy;
  /** the keys hb entries must be signed with, per instance; undefined without --trusted-keys-file */
  trustedKeys(): TrustedKeys | undefined;
  /** what GET /status answers */
  status(): object;
  /** true once shutdown began: responses then close their connection */
  closing(): boolean;
  /** a request's handling, which shutdown waits for even when its client is gone */
  track(handling: Promise<void>): void;
  log(message: string): void;
}

/** One request in progress, with what its access-log line will say. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly startedNs: bigint;
  instance: string | null;
  tokenName: string;
  bytesIn: number;
  bytesOut: number;
  reason?: RefusalReason;
}
