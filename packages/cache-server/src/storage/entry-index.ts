import { type Database, HbError, type SqlStatement as Statement, sqlite } from "@hb/core/engine";
import type { EntryKey, EntryKind, EntryRow } from "./entry";

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  instance TEXT NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL,
  sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL,
  last_access REAL NOT NULL,
  PRIMARY KEY (instance, kind, hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_last_access ON entries (last_access);
`;

export interface IndexedEntry extends EntryKey {
  readonly size: number;
}

/**
 * The server's index in SQLite (WAL): every stored entry with its size, content digest, inode
 * facts and last access. The database is held in exclusive locking mode, so a second server on
 * the same directory fails at once instead of corrupting the first one's bookkeeping.
 */
export class EntryIndex {
  private readonly db: Database;
  private readonly selectRow: Statement;
  private readonly upsertRow: Statement;
  private readonly deleteRow: Statement;
  private readonly updateAccess: Statement;
  private readonly updateStat: Statement;
  private readonly selectOldest: Statement;

  constructor(path: string) {
    const Db = sqlite();
    this.db = new Db(path);
    try {
      this.db.pragma("busy_timeout = 0");
      this.db.pragma("locking_mode = EXCLUSIVE");
      this.db.pragma("journal_mode = WAL");
      // NORMAL in WAL mode survives a crash of the process; a power loss may lose the last
      // transactions, which only forgets entries (the start-up reconciliation removes their files).
      this.db.pragma("synchronous = NORMAL");
      this.db.exec("BEGIN EXCLUSIVE; COMMIT");
    } catch (e) {
      this.db.close();
      if ((e as { code?: string }).code === "SQLITE_BUSY") {
        throw new HbError("CACHE_SERVER_FAILED", `another hb cache server is using ${path}`, { hint: "give each server its own --dir" });
      }
      throw e;
    }
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version !== 0 && version !== SCHEMA_VERSION) {
      this.db.close();
      throw new HbError("CACHE_SERVER_FAILED", `${path} was made by another version of hb (index schema ${version})`, {
        hint: "point --dir at a new directory",
      });
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const where = "WHERE instance = ? AND kind = ? AND hash = ?";
    this.selectRow = this.db.prepare(`SELECT sha256, size, mtime_ms AS mtimeMs, ctime_ms AS ctimeMs, ino FROM entries ${where}`);
    this.upsertRow = this.db.prepare(
      "INSERT OR REPLACE INTO entries (instance, kind, hash, sha256, size, mtime_ms, ctime_ms, ino, last_access) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.deleteRow = this.db.prepare(`DELETE FROM entries ${where}`);
    this.updateAccess = this.db.prepare(`UPDATE entries SET last_access = ? ${where}`);
    this.updateStat = this.db.prepare(`UPDATE entries SET mtime_ms = ?, ctime_ms = ?, ino = ? ${where}`);
    this.selectOldest = this.db.prepare("SELECT instance, kind, hash, size FROM entries ORDER BY last_access LIMIT ?");
  }

  get(key: EntryKey): EntryRow | undefined {
    return this.selectRow.get(key.instance, key.kind, key.hash) as EntryRow | undefined;
  }

  put(key: EntryKey, row: EntryRow, lastAccess: number): void {
    this.upsertRow.run(key.instance, key.kind, key.hash, row.sha256, row.size, row.mtimeMs, row.ctimeMs, row.ino, lastAccess);
  }

  setStat(key: EntryKey, stat: Pick<EntryRow, "mtimeMs" | "ctimeMs" | "ino">): void {
    this.updateStat.run(stat.mtimeMs, stat.ctimeMs, stat.ino, key.instance, key.kind, key.hash);
  }

  delete(key: EntryKey): void {
    this.deleteRow.run(key.instance, key.kind, key.hash);
  }

  /** Writes many last-access times in one transaction. */
  touchAll(accesses: Iterable<{ key: EntryKey; at: number }>): void {
    this.db.transaction(() => {
      for (const { key, at } of accesses) this.updateAccess.run(at, key.instance, key.kind, key.hash);
    })();
  }

  /** The least recently used entries, oldest first. */
  oldest(limit: number): IndexedEntry[] {
    return this.selectOldest.all(limit) as IndexedEntry[];
  }

  deleteAll(keys: readonly EntryKey[]): void {
    this.db.transaction(() => {
      for (const key of keys) this.deleteRow.run(key.instance, key.kind, key.hash);
    })();
  }

  totals(): { bytes: number; counts: Record<EntryKind, number> } {
    const rows = this.db.prepare("SELECT kind, COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM entries GROUP BY kind").all() as {
      kind: EntryKind;
      n: number;
      bytes: number;
    }[];
    const counts: Record<EntryKind, number> = { cas: 0, ac: 0 };
    let bytes = 0;
    for (const r of rows) {
      counts[r.kind] = r.n;
      bytes += r.bytes;
    }
    return { bytes, counts };
  }

  all(): IndexedEntry[] {
    return this.db.prepare("SELECT instance, kind, hash, size FROM entries").all() as IndexedEntry[];
  }

  close(): void {
    this.db.close();
  }
}
