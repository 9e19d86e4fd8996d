import { accessSync, constants, mkdirSync, statSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { type HbError, isHbError } from "./errors";

/** Filesystems nothing of hb's can live on: Node's recursive mkdir loops forever on a missing path in /proc. */
const PSEUDO_FILESYSTEMS = new Set([0x9fa0 /* proc */, 0x62656572 /* sysfs */]);

/**
 * Makes `dir` (and what is missing above it) a directory hb can write to, or throws `fail(why)`
 * with the reason in words: a file in the way, no access, or a path under /proc or /sys.
 */
export function makeWritableDir(dir: string, fail: (why: string) => HbError, mode?: number): void {
  let existing = dir;
  for (;;) {
    try {
      if (!statSync(existing).isDirectory()) throw fail(`${existing} is not a directory`);
      break;
    } catch (e) {
      if (isHbError(e)) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ENOTDIR") || existing === dirname(existing)) throw fail(code ?? String(e));
      existing = dirname(existing);
    }
  }
  let onDisk;
  try {
    onDisk = !PSEUDO_FILESYSTEMS.has(statfsSync(existing).type);
  } catch (e) {
    throw fail((e as NodeJS.ErrnoException).code ?? String(e));
  }
  if (!onDisk) throw fail(`${existing} is not on a disk`);
  try {
    if (existing !== dir) mkdirSync(dir, { recursive: true, ...(mode !== undefined ? { mode } : {}) });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw fail((e as NodeJS.ErrnoException).code ?? String(e));
  }
}
