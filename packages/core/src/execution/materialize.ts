import {
  type Stats,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  copyFileSync,
  constants,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { OutputFile } from "../caching/action-cache";
import { OUT_DIR } from "../base/graph";
import type { BlobFacts, LocalCas } from "../caching/local-cas";
import { HbError } from "../base/errors";
import type { Database } from "../base/database";
import { DirsAhead } from "./dirs-ahead";

/** what a file in hb-out/ is called while it is made, until its rename into place */
const TEMP_PREFIX = ".hb-tmp-";
/** in the output base while a build may be writing under hb-out/: the workspace it writes in */
const UNDERWAY = "build-underway";

/**
 * Marks the output base while a build puts outputs under hb-out/, first clearing what a build
 * killed there left: its temporary files under hb-out/ (a link about to be renamed into place)
 * and in the CAS's temp directory. Only the output base's lock holder writes either, so whatever
 * is left is a dead build's. `done` takes the mark away once the build has finished writing.
 */
export function buildUnderway(baseDir: string, root: string, casTmp: string): { done(): void } {
  const mark = join(baseDir, UNDERWAY);
  const killedIn = existsSync(mark) ? readFileSync(mark, "utf8") : undefined;
  if (killedIn === root) removeTemps(join(root, OUT_DIR));
  if (killedIn !== undefined) {
    for (const f of readdirSync(casTmp)) rmSync(join(casTmp, f), { recursive: true, force: true });
  }
  writeFileSync(mark, root);
  return { done: () => rmSync(mark, { force: true }) };
}

/** Removes every `.hb-tmp-*` below `dir`, without following links. */
function removeTemps(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(TEMP_PREFIX)) rmSync(join(dir, e.name), { recursive: true, force: true });
    else if (e.isDirectory()) removeTemps(join(dir, e.name));
  }
}

/** fewer directories than this are made as outputs are put in them: a thread takes longer to start */
export const DIRS_AHEAD_MIN = 64;

interface Row {
  hash: string;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** What hb put at an output path: [exec path, inode, size, mtime, ctime] */
export type OutputFacts = [string, number, number, number, number];

const rowOf = (file: OutputFile, st: Stats): Row => ({
  hash: file.hash,
  ino: st.ino,
  size: st.size,
  mtimeMs: st.mtimeMs,
  ctimeMs: st.ctimeMs,
});

/**
 * Puts outputs under `hb-out/` as read-only hardlinks of CAS blobs; a file in the way is replaced
 * through a temp name and a rename, so a path holds either the old file or the new one, never
 * half of one. Remembers what it put where, so a no-op build checks one lstat per output (its
 * ctime too: a write through the link with the old mtime put back, or a chmod, moves it).
 */
export class Materializer {
  private rows: Map<string, Row> | undefined;
  private readonly dirty = new Map<string, Row>();
  /** directories made ready this build: true for one it created, so nothing else is in it */
  private readonly dirs = new Map<string, boolean>();
  /** directories found to be really where they say under hb-out/ (no symlink on the way) */
  private readonly checkedDirs = new Set<string>();
  private ahead: DirsAhead | undefined;
  private realRoot: string | undefined;
  private counter = 0;

  constructor(
    /** the workspace root: exec paths `hb-out/...` are materialized at the same relative path */
    private readonly root: string,
    private readonly cas: LocalCas,
    private readonly db: Database,
  ) {}

  private load(): Map<string, Row> {
    if (!this.rows) {
      this.rows = new Map();
      const all = this.db
        .prepare("SELECT path, hash, ino, size, mtime_ms AS mtimeMs, ctime_ms AS ctimeMs FROM materialized")
        .all() as (Row & { path: string })[];
      for (const r of all) this.rows.set(r.path, r);
    }
    return this.rows;
  }

  /**
   * Has the directories of outputs about to be materialized (exec paths of files) made ahead, on
   * a thread of their own, while this one computes keys: when hb-out/ lacks the first of them (it
   * was removed, or this is a first build) and there are enough to be worth a thread.
   */
  prepareDirs(files: Iterable<string>): void {
    const dirs = new Set<string>();
    for (const f of files) dirs.add(dirname(join(this.root, f)));
    const [first] = dirs;
    if (dirs.size >= DIRS_AHEAD_MIN && !existsSync(first!)) this.ahead = DirsAhead.start([...dirs]);
  }

  /** No directory is made ahead after this. */
  async stopAhead(): Promise<void> {
    await this.ahead?.stop();
    this.ahead = undefined;
  }

  /**
   * Makes `hb-out/...` hold the blob of `file`; false when the blob is gone (a cache miss). A
   * path it cannot write (no permission, an immutable directory, a full disk) is an error naming
   * it: the path may still hold an older build's file, which must never pass for this build's.
   */
  ensure(file: OutputFile): boolean {
    try {
      return this.put(file);
    } catch (e) {
      throw notMaterialized(file.path, e);
    }
  }

  private put(file: OutputFile): boolean {
    const abs = join(this.root, file.path);
    const dir = dirname(abs);
    if (!this.dirs.has(dir) && this.ahead?.made(dir)) this.dirs.set(dir, true);
    const row = this.load().get(file.path);
    if (row && row.hash === file.hash && this.dirs.get(dir) !== true) {
      try {
        const st = lstatSync(abs);
        // the same bytes may now be wanted with another executable bit (another blob)
        const modeFits = file.symlink !== undefined || ((st.mode & 0o111) !== 0) === file.executable;
        if (st.ino === row.ino && st.size === row.size && st.mtimeMs === row.mtimeMs && st.ctimeMs === row.ctimeMs && modeFits) {
          if (file.symlink === undefined) {
            // a copy (hb-out/ on another file system than the CAS) stays put when its blob is
            // lost, and an action reading it stages the blob: lost, it is a miss like any other
            if (!this.cas.holds(file, file.executable)) return false;
            // in place already: its blob is still this build's, not the cache's to evict
            this.cas.markUsed(file.hash, file.executable);
          }
          return true;
        }
      } catch {
        // gone: put it back
      }
    }
    const blob = file.symlink !== undefined ? undefined : this.cas.locate({ hash: file.hash, size: file.size }, file.executable);
    if (file.symlink === undefined && blob === undefined) return false;
    if (!this.dirs.has(dir)) {
      let made;
      try {
        made = mkdirSync(dir, { recursive: true });
      } catch (e) {
        // a stale file where a directory must go
        if ((e as NodeJS.ErrnoException).code !== "EEXIST" && (e as NodeJS.ErrnoException).code !== "ENOTDIR") throw e;
        this.clearPathTo(dir);
        made = mkdirSync(dir, { recursive: true });
      }
      this.dirs.set(dir, made !== undefined);
    }
    // a symlink on the way (committed by a pull request, say) would have outputs written elsewhere
    if (!this.checkedDirs.has(dir)) {
      if (!this.underHbOut(dir)) throw leadsOut(file.path);
      this.checkedDirs.add(dir);
    }
    let fresh: Row | undefined;
    if (blob) {
      // where nothing is in the way (a restore into an empty hb-out/), a hardlink is made whole in
      // one step: no temp name, no rename
      try {
        linkSync(blob.path, abs);
        fresh = this.linkedAt(abs, file, blob);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EEXIST" && code !== "EXDEV") throw e;
        // already this very blob (its record was lost or its date touched): keep it; a rename of
        // a link onto its own inode would do nothing and leave the temp name behind
        if (code === "EEXIST") {
          const st = lstatSync(abs);
          if (st.ino === blob.ino) fresh = rowOf(file, st);
        }
      }
    }
    if (!fresh) {
      const tmp = join(dir, `${TEMP_PREFIX}${process.pid}-${++this.counter}`);
      if (!blob) {
        symlinkSync(file.symlink!, tmp);
      } else {
        try {
          linkSync(blob.path, tmp);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
          // hb-out/ on another filesystem than the output base: a copy, dated as the blob is
          copyFileSync(blob.path, tmp, constants.COPYFILE_FICLONE);
          utimesSync(tmp, blob.mtimeMs / 1000, blob.mtimeMs / 1000);
        }
      }
      try {
        renameSync(tmp, abs);
      } catch (e) {
        // a directory from an older build sits where the file goes
        if ((e as NodeJS.ErrnoException).code !== "EISDIR" && (e as NodeJS.ErrnoException).code !== "ENOTEMPTY") throw e;
        rmSync(abs, { recursive: true, force: true });
        renameSync(tmp, abs);
      } finally {
        // a failed rename leaves it, and a rename onto a link of the same inode succeeds without removing it
        rmSync(tmp, { force: true });
      }
      fresh = this.linkedAt(abs, file, blob);
    }
    this.rows!.set(file.path, fresh);
    this.dirty.set(file.path, fresh);
    return true;
  }

  /** The facts of what is now at `abs`; a new hardlink of `blob` moved its ctime, which the CAS learns too. */
  private linkedAt(abs: string, file: OutputFile, blob: BlobFacts | undefined): Row {
    const st = lstatSync(abs);
    if (blob && st.ino === blob.ino) this.cas.relinked(blob, st);
    return rowOf(file, st);
  }

  /**
   * Puts a result's outputs under hb-out/: its declared output directories made real directories
   * first, its files, then those directories pruned to them. The path of the first output whose
   * blob is gone (a cache miss), if any.
   */
  materialize(result: { dirs: readonly string[]; files: readonly OutputFile[] }): string | undefined {
    this.prepareTrees(result);
    for (const f of result.files) if (!this.ensure(f)) return f.path;
    this.ensureTrees(result);
    return undefined;
  }

  /** A symlink or a file where a declared output directory goes is removed itself, never what it points to. */
  private prepareTrees(result: { dirs: readonly string[] }): void {
    for (const d of result.dirs) {
      const abs = join(this.root, d);
      mkdirSync(dirname(abs), { recursive: true });
      if (!this.underHbOut(dirname(abs))) throw leadsOut(d);
      try {
        if (lstatSync(abs, { throwIfNoEntry: false })?.isDirectory() === false) rmSync(abs, { force: true });
        mkdirSync(abs, { recursive: true });
      } catch (e) {
        throw notMaterialized(d, e);
      }
    }
  }

  /** The declared output directories of `result` hold its files and nothing else: what an older run or a hand left goes. */
  private ensureTrees(result: { dirs: readonly string[]; files: readonly OutputFile[] }): void {
    if (result.dirs.length === 0) return;
    const files = new Set(result.files.map((f) => f.path));
    const prune = (rel: string): boolean => {
      let kept = false;
      for (const e of readdirSync(join(this.root, rel), { withFileTypes: true })) {
        const r = `${rel}/${e.name}`;
        if (files.has(r) || (e.isDirectory() && prune(r))) kept = true;
        else {
          try {
            rmSync(join(this.root, r), { recursive: true, force: true });
          } catch (err) {
            throw notMaterialized(r, err, "could not remove a file an older run left in the output directory");
          }
        }
      }
      return kept;
    };
    for (const d of result.dirs) if (this.underHbOut(join(this.root, d))) prune(d);
  }

  /**
   * Takes away what an action that failed left in hb-out/ from an earlier run (a test's passing
   * log, say): it no longer stands for the action's inputs.
   */
  removeStale(paths: readonly string[]): void {
    for (const p of paths) {
      if (!this.underHbOut(dirname(join(this.root, p)))) continue;
      try {
        rmSync(join(this.root, p), { recursive: true, force: true });
      } catch (e) {
        throw notMaterialized(p, e, "could not remove the output an earlier run left there");
      }
    }
  }

  /** Whether `dir` is really where it says under the workspace: no symlink on the way leads elsewhere. */
  private underHbOut(dir: string): boolean {
    try {
      return realpathSync.native(dir) === join((this.realRoot ??= realpathSync.native(this.root)), dir.slice(this.root.length));
    } catch {
      return false;
    }
  }

  /** Removes files that sit where a parent directory of an output must be, inside hb-out/ only. */
  private clearPathTo(dir: string): void {
    let d = dir;
    const outDir = join(this.root, OUT_DIR);
    while (d.length > outDir.length) {
      try {
        if (!lstatSync(d).isDirectory()) rmSync(d, { force: true });
      } catch {
        // missing is fine
      }
      d = dirname(d);
    }
  }

  /** What hb put at each of `paths` (exec paths); undefined if one is unknown. */
  recorded(paths: Iterable<string>): OutputFacts[] | undefined {
    const rows = this.load();
    const out: OutputFacts[] = [];
    for (const p of paths) {
      const r = rows.get(p);
      if (!r) return undefined;
      out.push([p, r.ino, r.size, r.mtimeMs, r.ctimeMs]);
    }
    return out;
  }

  flush(): void {
    if (this.dirty.size === 0) return;
    const put = this.db.prepare(
      "INSERT OR REPLACE INTO materialized (path, hash, ino, size, mtime_ms, ctime_ms) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const [path, r] of this.dirty) put.run(path, r.hash, r.ino, r.size, r.mtimeMs, r.ctimeMs);
    })();
    this.dirty.clear();
  }
}

/** Why an output is not where hb-out/ says it is: the path, the system's reason, and what to do. */
function notMaterialized(path: string, e: unknown, what = "could not put it in place"): HbError {
  if (e instanceof HbError) return e;
  const err = e as NodeJS.ErrnoException;
  const reason = err.code ? `${err.code}: ${err.message.replace(/^\w+: /, "").replace(/, \w+ '.*$/, "")}` : String(err?.message ?? e);
  const hint =
    err.code === "EPERM" || err.code === "EACCES" || err.code === "EROFS"
      ? `make ${dirname(path)} writable again (chmod u+w; chattr -i if it is immutable), or remove ${OUT_DIR}/ and build again`
      : err.code === "ENOSPC" || err.code === "EDQUOT"
        ? "free space on the disk that holds the workspace, then build again"
        : `remove ${OUT_DIR}/ and build again; the cache restores every output`;
  return HbError.of(
    "OUTPUT_NOT_MATERIALIZED",
    `${path}: ${what} (${reason}); it may still hold an older build's file`,
    { label: "", path, reason },
    { hint },
  );
}

function leadsOut(path: string): HbError {
  return HbError.of(
    "OUTPUT_NOT_MATERIALIZED",
    `${path}: ${dirname(path)} leads out of ${OUT_DIR}/ through a symlink; hb writes only inside ${OUT_DIR}/`,
    { label: "", path, reason: "a symlink on the way" },
    { hint: `remove the symlink (or ${OUT_DIR}/ whole) and build again` },
  );
}
