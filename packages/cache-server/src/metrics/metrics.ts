import { REFUSAL_REASONS, type RefusalReason } from "../http/refusal";
import type { EntryKind } from "../storage/entry";
import type { StoreStats } from "../storage/blob-store";

/** Counters since start. Plain numbers: the server is one process and one thread. */
export interface CacheMetrics {
  hits: Record<EntryKind, number>;
  misses: Record<EntryKind, number>;
  bytesIn: number;
  bytesOut: number;
  /** entry bytes sent that were hashed on their way out */
  hashedBytesOut: number;
  refusedUploads: Map<RefusalReason, number>;
  refusedReads: Map<RefusalReason, number>;
  requests: Map<string, number>;
  /** REAPI calls over gRPC, by method */
  grpcCalls: Map<string, number>;
  evictions: number;
  evictedBytes: number;
  corruptEntries: number;
  uploadsInFlight: number;
}

export function newMetrics(): CacheMetrics {
  return {
    hits: { cas: 0, ac: 0 },
    misses: { cas: 0, ac: 0 },
    bytesIn: 0,
    bytesOut: 0,
    hashedBytesOut: 0,
    refusedUploads: new Map(),
    refusedReads: new Map(),
    requests: new Map(),
    grpcCalls: new Map(),
    evictions: 0,
    evictedBytes: 0,
    corruptEntries: 0,
    uploadsInFlight: 0,
  };
}

export function countRefusal(m: CacheMetrics, method: string, reason: RefusalReason): void {
  const map = method === "PUT" ? m.refusedUploads : m.refusedReads;
  map.set(reason, (map.get(reason) ?? 0) + 1);
}

export function countRequest(m: CacheMetrics, method: string, status: number): void {
  const key = `method="${/^(GET|HEAD|PUT|DELETE)$/.test(method) ? method : "other"}",status="${status}"`;
  m.requests.set(key, (m.requests.get(key) ?? 0) + 1);
}

function family(out: string[], name: string, type: "counter" | "gauge", help: string, samples: [labels: string, value: number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) out.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
}

/** The Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(m: CacheMetrics, store: StoreStats): string {
  const out: string[] = [];
  const kinds = (r: Record<EntryKind, number>): [string, number][] => [
    ['kind="cas"', r.cas],
    ['kind="ac"', r.ac],
  ];
  const reasons = (map: Map<RefusalReason, number>): [string, number][] => REFUSAL_REASONS.map((r) => [`reason="${r}"`, map.get(r) ?? 0]);
  family(out, "hb_cache_hits_total", "counter", "GET and HEAD requests answered from the cache.", kinds(m.hits));
  family(out, "hb_cache_misses_total", "counter", "GET and HEAD requests for entries the cache does not have.", kinds(m.misses));
  family(out, "hb_cache_received_bytes_total", "counter", "Request body bytes received.", [["", m.bytesIn]]);
  family(out, "hb_cache_sent_bytes_total", "counter", "Entry bytes sent.", [["", m.bytesOut]]);
  family(
    out,
    "hb_cache_sent_hashed_bytes_total",
    "counter",
    "Entry bytes sent that were hashed on their way out (every small entry; a large one this process has not hashed since its file last changed).",
    [["", m.hashedBytesOut]],
  );
  family(out, "hb_cache_refused_uploads_total", "counter", "PUT requests refused, by reason.", reasons(m.refusedUploads));
  family(out, "hb_cache_refused_reads_total", "counter", "Other requests refused, by reason.", reasons(m.refusedReads));
  family(
    out,
    "hb_cache_requests_total",
    "counter",
    "Requests by method and status.",
    [...m.requests].sort(([a], [b]) => a.localeCompare(b)),
  );
  family(
    out,
    "hb_cache_grpc_calls_total",
    "counter",
    "REAPI calls over gRPC (--grpc-port), by method.",
    [...m.grpcCalls].sort(([a], [b]) => a.localeCompare(b)).map(([method, n]) => [`method="${method}"`, n]),
  );
  family(out, "hb_cache_evictions_total", "counter", "Entries evicted to stay under the size limit.", [["", m.evictions]]);
  family(out, "hb_cache_evicted_bytes_total", "counter", "Bytes evicted to stay under the size limit.", [["", m.evictedBytes]]);
  family(out, "hb_cache_corrupt_entries_total", "counter", "Stored entries found changed on disk and removed.", [["", m.corruptEntries]]);
  family(out, "hb_cache_uploads_in_flight", "gauge", "PUT requests being received.", [["", m.uploadsInFlight]]);
  family(out, "hb_cache_size_bytes", "gauge", "Bytes stored.", [["", store.totalBytes]]);
  family(out, "hb_cache_max_size_bytes", "gauge", "The size limit.", [["", store.maxSize]]);
  family(out, "hb_cache_entries", "gauge", "Entries stored.", [
    ['kind="cas"', store.casEntries],
    ['kind="ac"', store.acEntries],
  ]);
  return `${out.join("\n")}\n`;
}
