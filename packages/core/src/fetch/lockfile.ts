import { posix } from "node:path";
import { HbError } from "../base/errors";
import type { LockfilePolicy, ParsedLockfile } from "./npm-tree";
import { readPackageLock } from "./package-lock";
import { readPnpmLock } from "./pnpm-lock";
import { readYarnLock } from "./yarn-lock";

/** The lockfiles hb reads, by file name. */
export const LOCKFILE_NAMES = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock"] as const;

/**
 * Reads a lockfile into the tree of `importer` (the directory, relative to the lockfile's,
 * whose node_modules is laid out: "" for the lockfile's own): package-lock.json (v2/v3),
 * pnpm-lock.yaml or yarn.lock (yarn 2 and later). Before anything is fetched or run, a
 * non-registry source (git, file:) is refused unless its name is allow-listed; an entry without
 * an integrity is pinned on first fetch into hb.lock.json.
 */
export function parseLockfile(text: string, file: string, policy: LockfilePolicy, importer: string): ParsedLockfile {
  const base = posix.basename(file);
  if (base === "pnpm-lock.yaml") return readPnpmLock(text, file, policy, importer);
  if (base === "yarn.lock") return readYarnLock(text, file, policy, importer);
  if (base !== "package-lock.json" && base !== "npm-shrinkwrap.json") {
    throw new HbError("BAD_LOCKFILE", `${file}: hb reads ${LOCKFILE_NAMES.join(", ")}, not ${base}`, {
      location: { file },
      hint: "generate one of those (npm install --package-lock-only, pnpm install --lockfile-only, or yarn install)",
    });
  }
  return readPackageLock(text, file, policy, importer);
}
