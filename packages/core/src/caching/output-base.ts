import { join } from "node:path";
import { ActionCache } from "./action-cache";
import { LocalCas } from "./local-cas";
import { type Database, openDatabase } from "../base/database";
import { asDiskFull } from "../base/disk-full";
import { StatCache } from "../keying/stat-cache";

/**
 * What hb keeps in an output base, and all `hb clean --expunge` removes: an output base named by
 * mistake (a package, $HOME) keeps whatever else is there.
 */
export function isOutputBaseEntry(name: string): boolean {
  return /^(hb|lock)\.db(-wal|-shm|-journal)?$|^(lock\.pid|cas|sandbox|sandbox-etc|fetch-log\.jsonl|records\.jsonl|build-underway)$/.test(
    name,
  );
}

/** What a garbage collection of the local cache removed, and what it kept. */
export interface Eviction {
  blobs: number;
  bytes: number;
  keptBytes: number;
}

/** The local state under an output base: database, stat cache, CAS, action cache. */
export class OutputBase {
  readonly db: Database;
  readonly stats: StatCache;
  readonly cas: LocalCas;
  readonly ac: ActionCache;

  constructor(readonly dir: string) {
    this.db = openDatabase(join(dir, "hb.db"));
    this.stats = new StatCache(this.db);
    this.cas = new LocalCas(join(dir, "cas"), this.db);
    this.ac = new ActionCache(this.db, this.cas.incidents);
  }

  /**
   * Keeps the local cache within `maxBytes`, and with `unusedSinceMs` removes what no build has
   * used since then: blobs go least recently used first, never one this process used (the
   * current build's inputs and outputs), with the action cache entries that name them (so a
   * later build runs the action again rather than meeting a missing blob). hb-out/ keeps its
   * files: they are links of their own.
   */
  collectGarbage(limits: { maxBytes?: number; unusedSinceMs?: number }): Eviction {
    const now = Date.now();
    const touch = this.db.prepare("UPDATE blobs SET used_ms = ? WHERE hash = ?");
    this.db.transaction(() => {
      for (const name of this.cas.used) touch.run(now, name);
    })();
    let total = (this.db.prepare("SELECT COALESCE(SUM(size), 0) AS n FROM blobs").get() as { n: number }).n;
    const victims: { name: string; size: number }[] = [];
    const rows = this.db.prepare("SELECT hash AS name, size, used_ms AS usedMs FROM blobs ORDER BY used_ms, hash");
    for (const r of rows.iterate() as IterableIterator<{ name: string; size: number; usedMs: number }>) {
      const unused = limits.unusedSinceMs !== undefined && r.usedMs < limits.unusedSinceMs;
      const over = limits.maxBytes !== undefined && total > limits.maxBytes;
      if (!unused && !over) break;
      if (this.cas.used.has(r.name)) continue;
      victims.push(r);
      total -= r.size;
    }
    const dropBlob = this.db.prepare("DELETE FROM blobs WHERE hash = ?");
    const dropEntries = this.db.prepare("DELETE FROM action_cache WHERE key IN (SELECT key FROM output_index WHERE hash = ?)");
    const dropFetched = this.db.prepare("DELETE FROM fetched WHERE hash = ?");
    this.db.transaction(() => {
      for (const v of victims) {
        this.cas.remove(v.name);
        dropBlob.run(v.name);
        if (!v.name.endsWith(".x")) {
          dropEntries.run(v.name);
          dropFetched.run(v.name);
        }
      }
    })();
    return { blobs: victims.length, bytes: victims.reduce((n, v) => n + v.size, 0), keptBytes: total };
  }

  get sandboxDir(): string {
    return join(this.dir, "sandbox");
  }

  /**
   * Groups the many small writes of a build (cache rows, blob facts, action records) into one
   * transaction, committed by `commitWrites`: one commit per batch instead of one per row. A crash
   * loses at most the open batch, which only means cache misses.
   */
  beginWrites(): void {
    if (!this.db.inTransaction) this.db.exec("BEGIN");
  }

  commitWrites(): void {
    if (this.db.inTransaction) this.db.exec("COMMIT");
  }

  /**
   * Batches writes for a build, committing every 250 ms; the function returned commits and stops.
   * A commit that fails (a full disk) goes to `failed`, not out of the timer, where it would
   * crash hb; the next one tries again.
   */
  batchWrites(failed: (e: unknown) => void): () => void {
    this.beginWrites();
    const committer = setInterval(() => {
      try {
        this.commitWrites();
        this.beginWrites();
      } catch (e) {
        failed(e);
      }
    }, 250);
    return () => {
      clearInterval(committer);
      this.commitWrites();
    };
  }

  close(): void {
    try {
      this.stats.flush();
      this.commitWrites();
    } catch (e) {
      throw asDiskFull(e, this.dir, "hb could not record this build's results in its output base") ?? e;
    } finally {
      // what could not be committed is rolled back: a lost batch only means cache misses
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.db.close();
    }
  }
}
