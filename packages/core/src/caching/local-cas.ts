import {
  type Stats,
  chmodSync,
  copyFileSync,
  constants,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { type Digest, digestOfBytes, digestOfFile } from "../base/digest";
import type { Database, Statement } from "../base/database";

/** Something wrong found in a cache: counted, reported, never used. */
export interface CacheIncident {
  kind: "corrupt-blob" | "corrupt-action-result" | "missing-blob";
  detail: string;
}

interface BlobRow {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** A blob's path, its name in the index, and the inode facts it was verified by. */
export interface BlobFacts extends BlobRow {
  path: string;
  name: string;
}

/**
 * The local content-addressed store: blobs as read-only files under `cas/<2 hex>/<64 hex>`,
 * written to a temp file and renamed (never a torn blob under its name). Outputs are
 * materialized as hardlinks of these files, and root ignores read-only bits, so a blob whose
 * inode facts changed since hb wrote or linked it is re-hashed before use: the ctime among them,
 * which no one can set back (a write with the old mtime put back, a chmod, a link removed from
 * hb-out/ all move it).
 */
export class LocalCas {
  readonly tmpDir: string;
  readonly incidents: CacheIncident[] = [];
  private readonly madeDirs = new Set<string>();
  private tmpCounter = 0;
  /** the blobs (by index name) this process used: never evicted while it runs */
  readonly used = new Set<string>();
  private readonly selectRow: Statement;
  private readonly putRow: Statement;
  private readonly deleteRow: Statement;

  constructor(
    readonly dir: string,
    db: Database,
  ) {
    this.tmpDir = join(dir, "tmp");
    mkdirSync(this.tmpDir, { recursive: true });
    this.selectRow = db.prepare("SELECT size, mtime_ms AS mtimeMs, ctime_ms AS ctimeMs, ino FROM blobs WHERE hash = ?");
    this.putRow = db.prepare(
      "INSERT INTO blobs (hash, size, mtime_ms, ctime_ms, ino, used_ms) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (hash) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, ctime_ms = excluded.ctime_ms, ino = excluded.ino",
    );
    this.deleteRow = db.prepare("DELETE FROM blobs WHERE hash = ?");
  }

  /** Where a blob lives; `executable` blobs are a 0555 copy beside the 0444 one. */
  blobPath(hash: string, executable = false): string {
    return join(this.dir, hash.slice(0, 2), executable ? `${hash}.x` : hash);
  }

  /**
   * Whether a blob of `digest` is there to be used (a stat, no verification: a use verifies it);
   * an executable one is made from the plain one on first use.
   */
  holds(digest: Digest, executable = false): boolean {
    const there = (x: boolean) => statSync(this.blobPath(digest.hash, x), { throwIfNoEntry: false })?.size === digest.size;
    return there(executable) || (executable && there(false));
  }

  /** A fresh path in the CAS's temp directory (same filesystem, so a rename is atomic). */
  tempPath(): string {
    return join(this.tmpDir, `${process.pid}-${++this.tmpCounter}`);
  }

  private ensureDir(path: string): void {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
  }

  private record(name: string, path: string): BlobFacts {
    const st = statSync(path);
    this.used.add(name);
    this.putRow.run(name, st.size, st.mtimeMs, st.ctimeMs, st.ino, Date.now());
    return { path, name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
  }

  /** A blob used without a look at it (an output already in place under hb-out/). */
  markUsed(hash: string, executable: boolean): void {
    this.used.add(executable ? `${hash}.x` : hash);
  }

  /**
   * hb just made a hardlink of `blob` (verified a moment ago); `st` is its stat through that link.
   * A new link moves the blob's ctime and nothing else: remembered, so the next use is a stat again.
   */
  relinked(blob: BlobFacts, st: Stats): void {
    if (st.ino !== blob.ino || st.size !== blob.size || st.mtimeMs !== blob.mtimeMs) return;
    this.putRow.run(blob.name, st.size, st.mtimeMs, st.ctimeMs, st.ino, Date.now());
  }

  /**
   * Moves `file` (on the CAS's filesystem) into the store as blob `digest`, read-only, with
   * mtime `mtimeSec` (the action's SOURCE_DATE_EPOCH). The caller hashed it.
   */
  adopt(file: string, digest: Digest, mtimeSec: number): void {
    if (this.get(digest) !== undefined) {
      rmSync(file, { force: true });
      return;
    }
    chmodSync(file, 0o444);
    utimesSync(file, mtimeSec, mtimeSec);
    const dest = this.blobPath(digest.hash);
    this.ensureDir(dest);
    try {
      renameSync(file, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
      // staged on another filesystem (hb verify's tmpfs): copy in through a temp name
      const tmp = this.tempPath();
      copyFileSync(file, tmp);
      utimesSync(tmp, mtimeSec, mtimeSec);
      chmodSync(tmp, 0o444);
      renameSync(tmp, dest);
      rmSync(file, { force: true });
    }
    this.record(digest.hash, dest);
  }

  putBytes(data: string | Uint8Array, mtimeSec: number): Digest {
    const digest = digestOfBytes(data);
    if (this.get(digest) !== undefined) return digest;
    const tmp = this.tempPath();
    writeFileSync(tmp, data);
    this.adopt(tmp, digest, mtimeSec);
    return digest;
  }

  /**
   * The path of a verified blob, or undefined when it is absent. A blob whose content no longer
   * matches its name is deleted and reported as an incident.
   */
  get(digest: Digest, executable = false): string | undefined {
    return this.locate(digest, executable)?.path;
  }

  /** An executable (0555) copy of a blob, made on first use. */
  getExecutable(digest: Digest): string | undefined {
    return this.locate(digest, true)?.path;
  }

  /**
   * A verified blob with the inode facts it was verified by (a hardlink of it shares them), or
   * undefined when it is absent; an executable copy is made on first use.
   */
  locate(digest: Digest, executable = false): BlobFacts | undefined {
    const have = this.verified(digest, executable);
    if (have || !executable) return have;
    const plain = this.verified(digest, false);
    if (!plain) return undefined;
    const tmp = this.tempPath();
    copyFileSync(plain.path, tmp, constants.COPYFILE_FICLONE);
    chmodSync(tmp, 0o555);
    const st = statSync(plain.path);
    utimesSync(tmp, st.atime, st.mtime);
    const dest = this.blobPath(digest.hash, true);
    renameSync(tmp, dest);
    return this.record(`${digest.hash}.x`, dest);
  }

  private verified(digest: Digest, executable: boolean): BlobFacts | undefined {
    const name = executable ? `${digest.hash}.x` : digest.hash;
    const path = this.blobPath(digest.hash, executable);
    let st;
    try {
      st = statSync(path);
    } catch {
      return undefined;
    }
    const row = this.selectRow.get(name) as BlobRow | undefined;
    if (
      row &&
      row.size === st.size &&
      row.mtimeMs === st.mtimeMs &&
      row.ctimeMs === st.ctimeMs &&
      row.ino === st.ino &&
      st.size === digest.size
    ) {
      this.used.add(name);
      return { path, name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    }
    let actual: Digest | undefined;
    try {
      actual = digestOfFile(path);
    } catch {
      actual = undefined;
    }
    if (actual && actual.hash === digest.hash && actual.size === digest.size) {
      // the bytes are right; a chmod through a link in hb-out/ may not be (a chmod moves the ctime)
      const mode = executable ? 0o555 : 0o444;
      if ((st.mode & 0o7777) !== mode) {
        chmodSync(path, mode);
        return this.record(name, path);
      }
      // the facts from before the hash: a write during it moved them, and the next use re-hashes
      this.used.add(name);
      this.putRow.run(name, st.size, st.mtimeMs, st.ctimeMs, st.ino, Date.now());
      return { path, name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    }
    this.incidents.push({
      kind: "corrupt-blob",
      detail: `CAS blob ${digest.hash} no longer matches its digest (something wrote to it, e.g. through a hardlink in hb-out/); removed`,
    });
    rmSync(path, { recursive: true, force: true });
    this.deleteRow.run(name);
    if (!executable) this.drop({ hash: digest.hash, size: digest.size }, true);
    return undefined;
  }

  /** Unlinks a blob by its index name (the caller drops its row); an absent one is gone already. */
  remove(name: string): void {
    const executable = name.endsWith(".x");
    rmSync(this.blobPath(executable ? name.slice(0, -2) : name, executable), { force: true });
  }

  private drop(digest: Digest, executable: boolean): void {
    const path = this.blobPath(digest.hash, executable);
    try {
      unlinkSync(path);
    } catch {
      // absent already
    }
    this.deleteRow.run(executable ? `${digest.hash}.x` : digest.hash);
  }
}
