import { lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import type { OutputFacts } from "../execution/materialize";
import type { Database } from "../base/database";
import { isRacy } from "../base/racy";
import type { StatCache } from "../keying/stat-cache";
import type { TargetReport, TestResult } from "./report";

/**
 * The no-op fast path. After a clean build, hb records the stats of every file the build read
 * (sources, tools, toolchains, the host's package database) and of every output it materialized.
 * If the same request finds every one of them unchanged, and none racily so, the build would
 * compute the same keys, hit the same cache entries and find the same outputs: it is done. A
 * stat per file, no key computed, no cache entry read.
 */
export interface NoopSnapshot {
  recordedAtMs: number;
  /** [absolute path, size, mtime, ctime, inode] */
  files: [string, number, number, number, number][];
  outputs: OutputFacts[];
  actions: number;
  targets: TargetReport[];
  tests?: TestResult[];
}

/** What must be equal for two builds to be the same request: the analysis request and what changes keys. */
export function noopKey(parts: Record<string, unknown>): string {
  return JSON.stringify(parts);
}

/** The snapshot if it still holds; the stats it took are handed to `stats`, so a full build does not take them again. */
export function loadNoopSnapshot(db: Database, key: string, root: string, stats: StatCache): NoopSnapshot | undefined {
  const row = db.prepare("SELECT data FROM noop_snapshot WHERE key = ?").get(key) as { data: string } | undefined;
  if (!row) return undefined;
  let snap: NoopSnapshot;
  try {
    snap = JSON.parse(row.data) as NoopSnapshot;
  } catch {
    return undefined;
  }
  // anything that stops a stat (a file where a directory was, a symlink loop) is a change too:
  // the full build then says what is wrong
  try {
    for (const [path, size, mtimeMs, ctimeMs, ino] of snap.files) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st) stats.prime(path, st);
      if (
        !st ||
        st.size !== size ||
        st.mtimeMs !== mtimeMs ||
        st.ctimeMs !== ctimeMs ||
        st.ino !== ino ||
        isRacy(mtimeMs, snap.recordedAtMs)
      )
        return undefined;
    }
    for (const [path, ino, size, mtimeMs, ctimeMs] of snap.outputs) {
      const st = lstatSync(join(root, path), { throwIfNoEntry: false });
      if (!st || st.ino !== ino || st.size !== size || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) return undefined;
    }
  } catch {
    return undefined;
  }
  return snap;
}

export function saveNoopSnapshot(db: Database, key: string, snap: NoopSnapshot | undefined): void {
  if (snap) db.prepare("INSERT OR REPLACE INTO noop_snapshot (key, data) VALUES (?, ?)").run(key, JSON.stringify(snap));
  else db.prepare("DELETE FROM noop_snapshot WHERE key = ?").run(key);
}
