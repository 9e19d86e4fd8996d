import {
  chmodSync,
  closeSync,
  copyFileSync,
  constants,
  fstatSync,
  futimesSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { type Digest, digestOfBytes, digestOfFile } from "../base/digest";

export interface StagedFile {
  /** path below the staging directory */
  path: string;
  /** absolute host path of the content */
  source: string;
  /** copy instead of hardlink: the file sits where the action may write */
  copy: boolean;
  /** a symlink to make instead (tree outputs such as node_modules/.bin) */
  symlink?: string;
}

/**
 * Lays out files as one tree of hardlinks (copies where asked, or across filesystems), so the
 * whole tree is bound into the sandbox once: per-file binds cost about 0.5 ms each. A copy keeps
 * its source's mtime, as a hardlink would, unless `copyMtime` (seconds) says otherwise.
 */
export function stageTree(dir: string, files: readonly StagedFile[], extraDirs: readonly string[] = [], copyMtime?: number): void {
  const made = new Set<string>();
  const ensure = (d: string) => {
    if (made.has(d)) return;
    mkdirSync(d, { recursive: true });
    made.add(d);
  };
  const copy = (source: string, dest: string) => {
    copyFileSync(source, dest, constants.COPYFILE_FICLONE);
    if (copyMtime !== undefined) utimesSync(dest, copyMtime, copyMtime);
    else {
      const st = statSync(source);
      utimesSync(dest, st.atime, st.mtime);
    }
  };
  ensure(dir);
  for (const d of extraDirs) ensure(join(dir, d));
  for (const f of files) {
    const dest = join(dir, f.path);
    ensure(dirname(dest));
    if (f.symlink !== undefined) {
      symlinkSync(f.symlink, dest);
      continue;
    }
    if (f.copy) {
      copy(f.source, dest);
      continue;
    }
    try {
      linkSync(f.source, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV" && (e as NodeJS.ErrnoException).code !== "EPERM") throw e;
      copy(f.source, dest);
    }
  }
}

/** files up to this size are copied through memory */
const SMALL_COPY = 1 << 20;

/**
 * Copies `source` to a new file `dest` with `mode` and an mtime of `mtime` (seconds), and says
 * what it wrote: the bytes read, which need not be the ones a digest was taken of earlier. A small
 * file is read and written whole, created with its mode (whole under the executor's umask, 022):
 * eight system calls, where copyFileSync (a clone attempt, a truncate, an fchmod), chmod and
 * utimes take thirteen; 18 instead of 30 us per file on a tmpfs.
 */
export function copyStamped(source: string, dest: string, mtime: number, mode: number): Digest {
  let data: Buffer | undefined;
  const src = openSync(source, "r");
  try {
    const { size } = fstatSync(src);
    if (size <= SMALL_COPY) {
      data = Buffer.allocUnsafe(size);
      let n = 0;
      for (let r; n < size && (r = readSync(src, data, n, size - n, null)) > 0;) n += r;
      data = data.subarray(0, n);
    }
  } finally {
    closeSync(src);
  }
  if (!data) {
    // copyFileSync removes its own half-written copy when it fails
    copyFileSync(source, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    removedOnError(dest, () => {
      chmodSync(dest, mode);
      utimesSync(dest, mtime, mtime);
    });
    return digestOfFile(dest);
  }
  const out = openSync(dest, "wx", mode);
  try {
    removedOnError(dest, () => {
      for (let n = 0; n < data.length;) n += writeSync(out, data, n);
      futimesSync(out, mtime, mtime);
    });
  } finally {
    closeSync(out);
  }
  return digestOfBytes(data);
}

/** Runs `write` on the new file `dest`; a half-made copy (a full tmpfs) must not stand for an input later. */
function removedOnError(dest: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    rmSync(dest, { force: true });
    throw e;
  }
}
