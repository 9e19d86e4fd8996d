import { readdirSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { type Eviction, OutputBase, isOutputBaseEntry } from "../caching/output-base";
import { lockOutputBase } from "../workspace/lock";
import { openWorkspace } from "../workspace/workspace";

export interface CleanOptions {
  cwd: string;
  outputBase?: string;
  /** also every local cache: the output base, as far as it is hb's */
  expunge: boolean;
  /** instead: only the local cache's blobs no build used in this many milliseconds (hb-out/ stays) */
  olderThanMs?: number;
  signal: AbortSignal;
  onLockWait?(message: string): void;
}

export interface CleanResult {
  outDir: string;
  outputBase: string;
  /** the output base itself was removed (with expunge, when nothing but hb's state was in it) */
  removedBase: boolean;
  /** what is not hb's in the output base, and stays */
  kept: string[];
  /** with olderThanMs: what left the local cache */
  evicted?: Eviction;
}

/** A duration such as "7d", "12h", "30m": milliseconds, or undefined when it is none. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(d|h|m)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as "d" | "h" | "m"];
}

const isLock = (entry: string) => /^lock\.(db|pid)/.test(entry);

/** `hb clean`: removes hb-out/, and with `expunge` hb's state in the output base. */
export async function clean(opts: CleanOptions): Promise<CleanResult> {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const base = workspace.outputBase;
  const lock = await lockOutputBase(base, (m) => opts.onLockWait?.(m), opts.signal);
  const kept: string[] = [];
  if (opts.olderThanMs !== undefined) {
    // the cache alone: what the last builds used stays, and so do their outputs under hb-out/
    const ob = new OutputBase(base);
    try {
      const evicted = ob.collectGarbage({ unusedSinceMs: Date.now() - opts.olderThanMs });
      return { outDir: workspace.outDir, outputBase: base, removedBase: false, kept, evicted };
    } finally {
      ob.close();
      lock.release();
    }
  }
  try {
    rmSync(workspace.outDir, { recursive: true, force: true });
    if (opts.expunge) {
      // only what hb keeps there: a mistyped --output-base or HB_OUTPUT_BASE costs no one's files;
      // the lock we hold goes last
      for (const entry of readdirSync(base)) {
        if (!isOutputBaseEntry(entry)) kept.push(entry);
        else if (!isLock(entry)) rmSync(join(base, entry), { recursive: true, force: true });
      }
    }
  } finally {
    lock.release();
  }
  let removedBase = false;
  if (opts.expunge) {
    for (const entry of readdirSync(base)) if (isLock(entry)) rmSync(join(base, entry), { force: true });
    if (kept.length === 0) {
      try {
        rmdirSync(base);
        removedBase = true;
      } catch {
        // something appeared there meanwhile: it stays
      }
    }
  }
  return { outDir: workspace.outDir, outputBase: base, removedBase, kept: kept.sort() };
}
