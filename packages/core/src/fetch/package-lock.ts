import { posix } from "node:path";
import { HbError } from "../base/errors";
import {
  type LockfilePolicy,
  type NpmLink,
  type NpmPackage,
  type ParsedLockfile,
  binMap,
  integrityOf,
  refuseFloating,
  registryUrl,
} from "./npm-tree";
import { platformMismatch } from "./platform";

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  name?: string;
  bin?: Record<string, string> | string;
  hasInstallScript?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  inBundle?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const STRING_FIELDS = ["version", "resolved", "integrity", "name"] as const;

/**
 * A lockfile comes with the tree, a pull request's too: an entry's path is where its package is
 * unpacked, so it must stay inside node_modules/, and every field hb reads must have its type.
 */
function checkEntry(path: string, entry: unknown, file: string): asserts entry is LockEntry {
  function bad(why: string): never {
    throw new HbError("BAD_LOCKFILE", `${file}: packages[${JSON.stringify(path.slice(0, 120))}] ${why}`, { location: { file } });
  }
  if (!isObject(entry)) bad("is not an object");
  const segments = path.split("/");
  if (path.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".." || s.includes("\0")))
    bad("is not a path inside node_modules/");
  for (const f of STRING_FIELDS) if (entry[f] !== undefined && typeof entry[f] !== "string") bad(`.${f} is not a string`);
  const name = entry.name as string | undefined;
  if (name !== undefined && (name === "" || name.startsWith("/") || name.split("/").some((s) => s === "." || s === ".." || s === "")))
    bad(".name is not a package name");
  const bin = entry.bin;
  if (bin !== undefined && typeof bin !== "string" && !(isObject(bin) && Object.values(bin).every((b) => typeof b === "string")))
    bad(".bin is neither a path nor an object of paths");
}

function nameOf(path: string, entry: LockEntry): string {
  if (entry.name) return entry.name;
  const i = path.lastIndexOf("node_modules/");
  return path.slice(i + "node_modules/".length);
}

/** package-lock.json v2/v3: `packages` keyed by install path, workspace packages and their nested node_modules included. */
export function readPackageLock(text: string, file: string, policy: LockfilePolicy, importer: string): ParsedLockfile {
  let lock: { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(text);
  } catch (e) {
    throw new HbError("BAD_LOCKFILE", `${file} is not valid JSON: ${(e as Error).message}`, { location: { file } });
  }
  if (!isObject(lock) || !isObject(lock.packages) || typeof (lock.lockfileVersion ?? 0) !== "number" || (lock.lockfileVersion ?? 0) < 2) {
    const version = JSON.stringify((lock as { lockfileVersion?: unknown } | null)?.lockfileVersion ?? "?");
    throw new HbError("BAD_LOCKFILE", `${file} has lockfileVersion ${version}; hb reads lockfileVersion 2 or 3`, {
      location: { file },
      hint: "regenerate it with npm 7 or later: npm install --package-lock-only",
    });
  }
  const all = lock.packages;
  if (importer !== "" && !all[importer]) {
    throw new HbError("BAD_LOCKFILE", `${file} has no workspace package '${importer}' to lay out node_modules for`, {
      location: { file },
      hint: `declare the npm_deps of a workspace package in that package's BUILD.ts (its node_modules is laid out there), or run npm install so the lockfile lists it`,
    });
  }
  const prefix = importer === "" ? "" : `${importer}/`;
  const packages: NpmPackage[] = [];
  const links: NpmLink[] = [];
  const skipped: ParsedLockfile["skipped"] = [];
  const refusals: string[] = [];
  const skippedDirs: string[] = [];
  for (const [path, entry] of Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // this importer's tree: its node_modules, not the workspace packages' own (theirs are laid out in their packages)
    if (!path.startsWith(`${prefix}node_modules/`)) continue;
    checkEntry(path, entry, file);
    const rel = path.slice(prefix.length);
    const name = nameOf(path, entry);
    if (skippedDirs.some((d) => path.startsWith(d))) continue;
    if (entry.link) {
      // a workspace package: a link to its directory (relative to the lockfile's, as the tree's own paths)
      const target = entry.resolved ?? "";
      links.push({ path: rel, target: posix.relative(posix.dirname(path), target), bin: binMap(name, all[target]?.bin) });
      continue;
    }
    // bundled dependencies come inside their parent's tarball
    if (entry.inBundle) continue;
    const mismatch = platformMismatch(policy.platform, entry);
    if (mismatch && (entry.optional || entry.devOptional)) {
      skipped.push({ path: rel, why: `an optional package for ${mismatch}, not this platform` });
      skippedDirs.push(`${path}/`);
      continue;
    }
    const allowed = policy.allowUnpinned.includes(name);
    const resolved = entry.resolved ?? (entry.version ? registryUrl(policy.registry, name, entry.version) : undefined);
    const source = resolved ?? "(no source)";
    if (!resolved || !/^https?:\/\//.test(resolved)) {
      if (allowed) skipped.push({ path: rel, why: `its source ${source} is not a tarball URL` });
      else refusals.push(`${rel}: source ${source} is not a registry tarball (git, file: and links float)`);
      continue;
    }
    packages.push({
      path: rel,
      name,
      version: entry.version ?? "",
      url: resolved,
      integrity: integrityOf(entry.integrity, resolved, policy),
      bin: binMap(name, entry.bin) ?? {},
      hasInstallScript: entry.hasInstallScript === true,
    });
  }
  refuseFloating(file, refusals);
  return { packages, links, skipped };
}
