import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { HbError, makeWritableDir } from "@hb/core/engine";
import { type EntryKey, type EntryKind, type EntryRow, entryId } from "./entry";
import { EntryIndex } from "./entry-index";
import { hashOpenFile } from "./hash-fd";
import { type StoreLayout, entryPath, storeLayout } from "./layout";

export interface StoreEvents {
  /** entries removed to stay under the size limit */
  evicted(count: number, bytes: number): void;
  /** a stored file whose bytes no longer match what was stored; it was removed */
  corrupt(key: EntryKey, detail: string): void;
  log(message: string): void;
}

export interface StoreOptions {
  dir: string;
  maxSize: number;
  events: StoreEvents;
  /** how often batched last-access times are written to the index */
  accessFlushMs?: number;
}

export interface StoreStats {
  totalBytes: number;
  maxSize: number;
  casEntries: number;
  acEntries: number;
}

/** An entry opened for reading: the caller owns `fd` and closes it. */
export interface OpenEntry {
  readonly fd: number;
  readonly path: string;
  readonly row: EntryRow;
}

const EVICTION_BATCH = 256;

/**
 * Entries above this size are streamed to their readers; below it they are read and hashed whole
 * on every read (cheap), so only larger ones are worth remembering as hashed.
 */
export const STREAMED_SIZE = 1 << 20;
/** How many hashed large entries are remembered (least recently read forgotten first). */
const HASHED_MEMORY = 4096;

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function factsOf(row: EntryRow): string {
  return `${row.sha256}:${row.size}:${row.ino}:${row.mtimeMs}:${row.ctimeMs}`;
}

/** Creates the store's directory, or says in words why it cannot be one. */
function makeStoreDir(root: string): void {
  makeWritableDir(
    root,
    (why) =>
      new HbError("CACHE_SERVER_FAILED", `cannot keep the cache in ${root}: ${why}`, {
        hint: "give --dir a writable directory (it is created if missing)",
      }),
  );
}

/** Whether a file's inode facts are still those recorded in `row`. */
export function sameFile(row: EntryRow, st: Stats): boolean {
  return row.size === st.size && row.mtimeMs === st.mtimeMs && row.ctimeMs === st.ctimeMs && row.ino === st.ino;
}

/**
 * The server's storage: each entry a file, written to tmp/ then renamed into place (a crash
 * never leaves a torn file under an entry's name), indexed in SQLite with its size, content
 * digest, inode facts and last access. Least recently used entries are evicted to stay under
 * `maxSize`. Last-access times are collected in memory and written in one transaction per
 * interval, so a read costs no database write.
 *
 * Mutations are synchronous on purpose: between two of them no other request runs, so a
 * check-then-commit (AC write-once, an AC entry's blobs being present) needs no lock.
 */
export class BlobStore {
  readonly layout: StoreLayout;
  private readonly index: EntryIndex;
  private readonly events: StoreEvents;
  private readonly maxSize: number;
  private readonly pendingAccess = new Map<string, { key: EntryKey; at: number }>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly madeDirs = new Set<string>();
  /** large entries whose bytes this process hashed itself, by id: the inode facts they had then */
  private readonly hashed = new Map<string, string>();
  private totalBytes: number;
  private readonly counts: Record<EntryKind, number>;
  private lastClock = 0;
  private tempCounter = 0;
  private closed = false;

  private constructor(opts: StoreOptions) {
    this.layout = storeLayout(opts.dir);
    this.events = opts.events;
    this.maxSize = opts.maxSize;
    makeStoreDir(this.layout.root);
    this.index = new EntryIndex(this.layout.indexPath);
    // Uploads that were in flight when the last run ended are garbage whatever happened to it.
    rmSync(this.layout.tmpDir, { recursive: true, force: true });
    mkdirSync(this.layout.tmpDir, { recursive: true });
    mkdirSync(this.layout.blobsDir, { recursive: true });
    if (!existsSync(this.layout.cleanMarker)) this.reconcile();
    rmSync(this.layout.cleanMarker, { force: true });
    const totals = this.index.totals();
    this.totalBytes = totals.bytes;
    this.counts = totals.counts;
    this.flushTimer = setInterval(() => this.flushAccess(), opts.accessFlushMs ?? 1000);
    this.flushTimer.unref();
    this.evictToFit();
  }

  static open(opts: StoreOptions): BlobStore {
    return new BlobStore(opts);
  }

  /** A strictly increasing wall clock: two accesses in one millisecond still have an order. */
  private clock(): number {
    this.lastClock = Math.max(Date.now(), this.lastClock + 0.001);
    return this.lastClock;
  }

  pathOf(key: EntryKey): string {
    return entryPath(this.layout, key);
  }

  lookup(key: EntryKey): EntryRow | undefined {
    return this.index.get(key);
  }

  /** Whether the entry is stored and its file looks untouched since (the upload path's shortcut; reads verify bytes). */
  hasIntact(key: EntryKey): boolean {
    const row = this.index.get(key);
    if (!row) return false;
    try {
      return sameFile(row, statSync(this.pathOf(key)));
    } catch {
      return false;
    }
  }

  /**
   * Whether this process hashed the entry's bytes itself (its upload, or an earlier read) while
   * its file had the inode facts it has now. A write moves a file's ctime (to a new value even
   * within a clock tick since Linux 6.13's multigrain timestamps, once the old one was read), so
   * such an entry is sent without hashing it again, and the stream checks the facts once more
   * before its last bytes. Silent corruption of the disk itself is not seen. A new process
   * trusts nothing it did not hash: a file changed while the server was down, with its facts
   * hidden, is still caught on its first read.
   */
  hashedHere(key: EntryKey, row: EntryRow): boolean {
    const id = entryId(key);
    const facts = this.hashed.get(id);
    if (facts !== factsOf(row)) return false;
    this.hashed.delete(id);
    this.hashed.set(id, facts);
    return true;
  }

  /** Records that the entry's bytes, at the inode facts in `row`, hash to its digest. */
  rememberHashed(key: EntryKey, row: EntryRow): void {
    if (row.size <= STREAMED_SIZE) return;
    const id = entryId(key);
    this.hashed.delete(id);
    this.hashed.set(id, factsOf(row));
    if (this.hashed.size > HASHED_MEMORY) this.hashed.delete(this.hashed.keys().next().value!);
  }

  /** A fresh path for an upload, on the same filesystem as the blobs. */
  tempPath(): string {
    return join(this.layout.tmpDir, `${process.pid}-${++this.tempCounter}`);
  }

  touch(key: EntryKey): void {
    this.pendingAccess.set(entryId(key), { key, at: this.clock() });
  }

  /**
   * Opens an entry for reading. A file whose inode facts changed since it was stored (someone
   * wrote to it) is re-hashed: kept when its bytes still match, removed otherwise.
   */
  async open(key: EntryKey): Promise<OpenEntry | undefined> {
    const row = this.index.get(key);
    if (!row) return undefined;
    const path = this.pathOf(key);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      this.forget(key);
      return undefined;
    }
    const st = fstatSync(fd);
    if (sameFile(row, st)) return { fd, path, row };
    // its facts moved: whatever this process hashed before no longer stands for it
    this.hashed.delete(entryId(key));
    let actual: { sha256: string; size: number };
    try {
      actual = await hashOpenFile(path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const now = this.index.get(key);
    if (actual.sha256 === row.sha256 && actual.size === row.size && now?.sha256 === row.sha256) {
      // the bytes hashed are the file's at the facts it had before, unless written to meanwhile:
      // then nothing is recorded, and the read hashes what it sends
      const hashedAt = { ...row, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
      if (!sameFile(hashedAt, fstatSync(fd))) return { fd, path, row };
      this.index.setStat(key, st);
      this.rememberHashed(key, hashedAt);
      return { fd, path, row: hashedAt };
    }
    closeSync(fd);
    this.discardCorrupt(key, st.ino, `its file changed on disk (${actual.size} bytes, sha256 ${actual.sha256})`);
    return undefined;
  }

  /**
   * Removes an entry found not to match its digest, unless a new upload has already replaced
   * the file (another inode): that one was verified on its way in.
   */
  discardCorrupt(key: EntryKey, ino: number, detail: string): void {
    const path = this.pathOf(key);
    let current: Stats | undefined;
    try {
      current = statSync(path);
    } catch {
      current = undefined;
    }
    if (current && current.ino !== ino) return;
    if (current) unlinkSync(path);
    this.forget(key);
    this.events.corrupt(key, detail);
  }

  /**
   * Moves a verified upload into place and indexes it, then evicts to stay under the size
   * limit. The directory is not fsynced after the rename: a power loss can only lose the rename
   * (the entry is missing, never torn), and the start-up reconciliation drops its index row.
   */
  commit(key: EntryKey, tempPath: string, sha256: string, size: number): void {
    const dest = this.pathOf(key);
    const dir = dest.slice(0, dest.lastIndexOf("/"));
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    renameSync(tempPath, dest);
    const st = statSync(dest);
    const old = this.index.get(key);
    const row = { sha256, size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    this.index.put(key, row, this.clock());
    // the caller hashed exactly these bytes on their way in
    this.rememberHashed(key, row);
    this.pendingAccess.delete(entryId(key));
    if (old) {
      this.totalBytes -= old.size;
    } else {
      this.counts[key.kind]++;
    }
    this.totalBytes += size;
    this.evictToFit();
  }

  /** Removes an entry and its file. */
  remove(key: EntryKey): void {
    rmSync(this.pathOf(key), { force: true });
    this.forget(key);
  }

  private forget(key: EntryKey): void {
    const row = this.index.get(key);
    if (!row) return;
    this.index.delete(key);
    this.pendingAccess.delete(entryId(key));
    this.hashed.delete(entryId(key));
    this.totalBytes -= row.size;
    this.counts[key.kind]--;
  }

  private evictToFit(): void {
    if (this.totalBytes <= this.maxSize) return;
    this.flushAccess();
    let count = 0;
    let bytes = 0;
    while (this.totalBytes > this.maxSize) {
      const victims = this.index.oldest(EVICTION_BATCH);
      if (victims.length === 0) break;
      const removed: EntryKey[] = [];
      for (const v of victims) {
        if (this.totalBytes <= this.maxSize) break;
        rmSync(this.pathOf(v), { force: true });
        this.hashed.delete(entryId(v));
        removed.push(v);
        this.totalBytes -= v.size;
        this.counts[v.kind]--;
        count++;
        bytes += v.size;
      }
      this.index.deleteAll(removed);
    }
    if (count > 0) this.events.evicted(count, bytes);
  }

  flushAccess(): void {
    if (this.pendingAccess.size === 0 || this.closed) return;
    this.index.touchAll(this.pendingAccess.values());
    this.pendingAccess.clear();
  }

  /**
   * After a crash the index and the files can disagree: an upload renamed into place whose row
   * was never written, or a row whose rename a power loss undid. Rows without files are dropped
   * and files without rows removed (their uploaders get a miss and upload again).
   */
  private reconcile(): void {
    const missing = this.index.all().filter((e) => !existsSync(this.pathOf(e)));
    this.index.deleteAll(missing);
    let orphans = 0;
    for (const ns of subdirs(this.layout.blobsDir)) {
      const instance = ns.slice(1);
      for (const kind of ["cas", "ac"] as const) {
        const kindDir = join(this.layout.blobsDir, ns, kind);
        for (const prefix of subdirs(kindDir)) {
          for (const hash of readdirSync(join(kindDir, prefix))) {
            if (!this.index.get({ instance, kind, hash })) {
              rmSync(join(kindDir, prefix, hash), { recursive: true, force: true });
              orphans++;
            }
          }
        }
      }
    }
    if (missing.length + orphans > 0) {
      this.events.log(
        `recovered from an unclean shutdown: dropped ${missing.length} index rows without files and ${orphans} files without rows`,
      );
    }
  }

  stats(): StoreStats {
    return { totalBytes: this.totalBytes, maxSize: this.maxSize, casEntries: this.counts.cas, acEntries: this.counts.ac };
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.flushTimer);
    this.flushAccess();
    this.closed = true;
    this.index.close();
    writeFileSync(this.layout.cleanMarker, `${new Date().toISOString()}\n`);
  }
}
