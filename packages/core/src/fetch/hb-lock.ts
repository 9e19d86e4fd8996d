import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "../base/errors";

/**
 * hb's own lock file, beside hb.config.ts: the integrity of every npm tarball a lockfile names
 * without one (npm leaves it out for about half the entries of a real lockfile), pinned the
 * first time hb fetched it, as Bazel's MODULE.bazel.lock pins what a module resolved to. It is
 * committed and reviewed like any lockfile: once it pins a URL, a fetch that gets other bytes
 * fails, naming the package.
 */
export const HB_LOCK_FILE = "hb.lock.json";

interface HbLockFile {
  version: 1;
  /** tarball URL -> SRI integrity (sha512) of the bytes first fetched */
  npm: Record<string, string>;
}

/** The pins of hb.lock.json (none when there is no such file). */
export function readHbLock(root: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(join(root, HB_LOCK_FILE), "utf8");
  } catch {
    return new Map();
  }
  let lock: Partial<HbLockFile>;
  try {
    lock = JSON.parse(text) as Partial<HbLockFile>;
  } catch (e) {
    throw new HbError("BAD_LOCKFILE", `${HB_LOCK_FILE} is not valid JSON: ${(e as Error).message}`, {
      location: { file: HB_LOCK_FILE },
      hint: "restore it from version control; removing it pins every tarball anew on the next fetch",
    });
  }
  if (lock.version !== 1 || typeof lock.npm !== "object" || lock.npm === null) {
    throw new HbError("BAD_LOCKFILE", `${HB_LOCK_FILE} is not an hb lock file of version 1 ({ "version": 1, "npm": { url: integrity } })`, {
      location: { file: HB_LOCK_FILE },
    });
  }
  return new Map(Object.entries(lock.npm).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** Adds `pins` to hb.lock.json: sorted, one line each, so a review shows exactly what was pinned. */
export function addToHbLock(root: string, pins: ReadonlyMap<string, string>): void {
  const all = readHbLock(root);
  for (const [url, integrity] of pins) all.set(url, integrity);
  const npm = Object.fromEntries([...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const file = join(root, HB_LOCK_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: 1, npm } satisfies HbLockFile, null, 2) + "\n");
  renameSync(tmp, file);
}
