import { copyFileSync, constants, linkSync, mkdirSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { dirname, join } from "node:path";

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
