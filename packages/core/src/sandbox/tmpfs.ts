import { existsSync, statfsSync } from "node:fs";

const TMPFS_MAGIC = 0x01021994;

/** A writable tmpfs directory of this machine (/dev/shm), if there is one. */
export function tmpfsDir(): string | undefined {
  for (const d of ["/dev/shm", "/run/shm"]) {
    try {
      if (existsSync(d) && statfsSync(d).type === TMPFS_MAGIC) return d;
    } catch {
      // not there
    }
  }
  return undefined;
}
