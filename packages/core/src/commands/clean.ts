import { readdirSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { isOutputBaseEntry } from "../caching/output-base";
import { lockOutputBase } from "../workspace/lock";
import { openWorkspace } from "../workspace/workspace";

export interface CleanOptions {
  cwd: string;
  outputBase?: string;
  /** also every local cache: the output base, as far as it is hb's */
  expunge: boolean;
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
}

const isLock = (entry: string) => /^lock\.(db|pid)/.test(entry);

/** `hb clean`: removes hb-out/, and with `expunge` hb's state in the output base. */
export async function clean(opts: CleanOptions): Promise<CleanResult> {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const base = workspace.outputBase;
  const lock = await lockOutputBase(base, (m) => opts.onLockWait?.(m), opts.signal);
  const kept: string[] = [];
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
