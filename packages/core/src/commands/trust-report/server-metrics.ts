// The team cache server's own refusals, read from its /metrics for `hb report --server`.
import { HbError } from "../../base/errors";

/** How long `hb report` waits for /metrics before it gives up (the output base stays locked meanwhile). */
export const METRICS_TIMEOUT_MS = 10_000;

/**
 * The server's refusal reasons (REFUSAL_REASONS of packages/cache-server/src/http/refusal.ts)
 * that say something was wrong with what a client sent: content that is not what its digest
 * says, an action cache entry that does not hold together or would overwrite another. The others
 * (auth, paths, sizes, a full disk) are about access and capacity, not about correctness.
 */
export const CORRECTNESS_REFUSALS: readonly string[] = ["hash_mismatch", "bad_ac_entry", "ac_key_mismatch", "missing_blob", "ac_conflict"];

/** What the server counted since it started: its counters are not per week, so they are shown beside the weeks, not in them. */
export interface ServerRefusals {
  url: string;
  /** uploads refused for a correctness reason, by the server's reason name */
  refused: Record<string, number>;
  /** stored entries the server found changed on disk and removed */
  corruptEntries: number;
  total: number;
}

/** The correctness refusals and corrupt entries of a /metrics text (Prometheus exposition format). */
export function parseServerRefusals(url: string, text: string): ServerRefusals {
  const refused: Record<string, number> = {};
  let corruptEntries = 0;
  for (const line of text.split("\n")) {
    const m = /^hb_cache_(?:refused_uploads_total\{reason="([^"]+)"\}|corrupt_entries_total(?:\{\})?) (\d+)$/.exec(line);
    if (!m) continue;
    if (m[1] === undefined) corruptEntries += Number(m[2]);
    else if (CORRECTNESS_REFUSALS.includes(m[1]) && Number(m[2]) > 0) refused[m[1]] = Number(m[2]);
  }
  return { url, refused, corruptEntries, total: Object.values(refused).reduce((a, b) => a + b, corruptEntries) };
}

/** Reads the server's /metrics (`token`: HB_CACHE_TOKEN, read access), giving up after `timeoutMs` or when `signal` aborts. */
export async function readServerRefusals(
  server: { url: string; token?: string },
  signal: AbortSignal,
  timeoutMs = METRICS_TIMEOUT_MS,
): Promise<ServerRefusals> {
  const url = new URL("/metrics", server.url);
  let text: string;
  try {
    const res = await fetch(url, {
      headers: server.token ? { authorization: `Bearer ${server.token}` } : {},
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    text = await res.text();
  } catch (e) {
    // interrupted: the command stops as interrupted, not as a server that failed
    if (signal.aborted) throw signal.reason;
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why =
      err.name === "TimeoutError"
        ? `no answer in ${timeoutMs / 1000} s`
        : `${err.message}${err.cause ? `: ${err.cause.code ?? err.cause.message}` : ""}`;
    throw new HbError("REMOTE_CACHE_FAILED", `cannot read ${url.href}: ${why}`, {
      hint: "give the team cache's URL (hb cache serve's); /metrics needs a token with read access in HB_CACHE_TOKEN",
    });
  }
  return parseServerRefusals(server.url, text);
}
