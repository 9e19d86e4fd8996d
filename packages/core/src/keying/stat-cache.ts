import { type Stats, statSync } from "node:fs";
import { type Digest, digestOfFile } from "../base/digest";
import type { Database } from "../base/database";
import { isRacy } from "../base/racy";

interface Row {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  hash: string;
  recordedMs: number;
}

export interface StatResult {
  digest: Digest;
  stats: Stats;
  /** true when the file was read and hashed this time */
  hashed: boolean;
}

/**
 * path -> digest, trusted while (size, mtime, ctime, inode) are unchanged and the entry is not
 * racy, so a no-op build hashes nothing. Loaded whole on first use, written back in one
 * transaction by `flush`.
 */
export class StatCache {
  private rows: Map<string, Row> | undefined;
  private readonly dirty = new Map<string, Row>();
  hashedFiles = 0;
  hashedBytes = 0;
  /** every file and directory looked at by this process, with the stats it had when first read: what a build read */
  readonly seen = new Map<string, Stats>();
  /** a file read more than once changed in between: parts of the build saw other bytes than others */
  changedDuringBuild = false;
  /** before any file was looked at: stats are trusted only for files last changed well before */
  readonly openedMs = Date.now();
  private readonly primed = new Map<string, Stats>();

  constructor(private readonly db: Database) {}

  private load(): Map<string, Row> {
    if (!this.rows) {
      this.rows = new Map();
      const all = this.db
        .prepare("SELECT path, size, mtime_ms AS mtimeMs, ctime_ms AS ctimeMs, ino, hash, recorded_ms AS recordedMs FROM stat_cache")
        .all() as (Row & { path: string })[];
      for (const r of all) this.rows.set(r.path, r);
    }
    return this.rows;
  }

  /**
   * Stats of `path` just taken by someone else this build (the no-op check): the next `digest`
   * of it uses them instead of a stat of its own. Taken before the file is read, like its own.
   */
  prime(path: string, stats: Stats): void {
    this.primed.set(path, stats);
  }

  /**
   * Remembers what the build saw of `path`: a file it read, or a directory it listed (an entry
   * added, removed or replaced moves the directory's times). Seen again with other facts, the
   * build read it twice and it changed in between.
   */
  saw(path: string, stats: Stats): void {
    const before = this.seen.get(path);
    if (!before) this.seen.set(path, stats);
    else if (
      before.size !== stats.size ||
      before.mtimeMs !== stats.mtimeMs ||
      before.ctimeMs !== stats.ctimeMs ||
      before.ino !== stats.ino
    ) {
      // hb moves no source's ctime (it copies sources into sandboxes): this is an edit or a chmod
      this.changedDuringBuild = true;
    }
  }

  /** The digest of the file at absolute `path`; throws ENOENT etc. as fs does. */
  digest(path: string): StatResult {
    let stats = this.primed.get(path);
    if (stats) this.primed.delete(path);
    else stats = statSync(path);
    this.saw(path, stats);
    const row = this.load().get(path);
    if (
      row &&
      row.size === stats.size &&
      row.mtimeMs === stats.mtimeMs &&
      row.ctimeMs === stats.ctimeMs &&
      row.ino === stats.ino &&
      !isRacy(stats.mtimeMs, row.recordedMs)
    ) {
      return { digest: { hash: row.hash, size: row.size }, stats, hashed: false };
    }
    const recordedMs = Date.now();
    const digest = digestOfFile(path);
    this.hashedFiles++;
    this.hashedBytes += digest.size;
    const fresh: Row = { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino, hash: digest.hash, recordedMs };
    // If the file changed between stat and read, the row would pair old facts with new bytes:
    // record it only when the size matches what was hashed; the next build looks again anyway.
    if (digest.size === stats.size) {
      this.rows!.set(path, fresh);
      this.dirty.set(path, fresh);
    }
    return { digest, stats, hashed: true };
  }

  flush(): void {
    if (this.dirty.size === 0) return;
    const put = this.db.prepare(
      "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ms, ctime_ms, ino, hash, recorded_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const [path, r] of this.dirty) put.run(path, r.size, r.mtimeMs, r.ctimeMs, r.ino, r.hash, r.recordedMs);
    })();
    this.dirty.clear();
  }
}
