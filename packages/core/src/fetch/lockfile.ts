import { HbError } from "../base/errors";
import { parseIntegrity } from "../base/integrity";

/** One package of an npm lockfile (v2/v3 `packages`), as hb installs it. */
export interface NpmPackage {
  /** where it goes: `node_modules/a`, `node_modules/a/node_modules/b` */
  path: string;
  name: string;
  version: string;
  /** tarball URL */
  url: string;
  /** SRI string, or "" for an allow-listed package pinned on first fetch */
  integrity: string;
  /** command name -> file inside the package */
  bin: Record<string, string>;
  hasInstallScript: boolean;
}

export interface LockfilePolicy {
  /** registry for packages the lockfile records without `resolved` (npm's omit-lockfile-registry-resolved) */
  registry: string;
  /** package names allowed without an integrity hash or from a non-registry source */
  allowUnpinned: readonly string[];
}

export interface ParsedLockfile {
  packages: NpmPackage[];
  /** allow-listed entries hb cannot fetch (git, file:, link): skipped, with why */
  skipped: { path: string; why: string }[];
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  name?: string;
  bin?: Record<string, string> | string;
  hasInstallScript?: boolean;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

function nameOf(path: string, entry: LockEntry): string {
  if (entry.name) return entry.name;
  const i = path.lastIndexOf("node_modules/");
  return path.slice(i + "node_modules/".length);
}

function registryUrl(registry: string, name: string, version: string): string {
  const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
  return `${registry.replace(/\/+$/, "")}/${name}/-/${base}-${version}.tgz`;
}

/**
 * Reads a package-lock.json (v2/v3) and refuses, before anything is fetched or run, every entry
 * that is not pinned: no integrity hash, or a floating or non-registry source (git, file:, an
 * http tarball without a hash) — unless its name is allow-listed.
 */
export function parseLockfile(text: string, file: string, policy: LockfilePolicy): ParsedLockfile {
  let lock: { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(text);
  } catch (e) {
    throw new HbError("BAD_LOCKFILE", `${file} is not valid JSON: ${(e as Error).message}`, { location: { file } });
  }
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) {
    throw new HbError("BAD_LOCKFILE", `${file} has lockfileVersion ${lock.lockfileVersion ?? "?"}; hb reads lockfileVersion 2 or 3`, {
      location: { file },
      hint: "regenerate it with npm 7 or later: npm install --package-lock-only",
    });
  }
  const packages: NpmPackage[] = [];
  const skipped: ParsedLockfile["skipped"] = [];
  const refusals: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (path === "" || !path.includes("node_modules/")) continue; // the root project and workspace packages
    const name = nameOf(path, entry);
    const allowed = policy.allowUnpinned.includes(name);
    if (entry.link) {
      skipped.push({ path, why: "a link to a workspace package" });
      continue;
    }
    const resolved = entry.resolved ?? (entry.version ? registryUrl(policy.registry, name, entry.version) : undefined);
    const source = resolved ?? "(no source)";
    if (!resolved || !/^https?:\/\//.test(resolved)) {
      if (allowed) skipped.push({ path, why: `its source ${source} is not a tarball URL` });
      else refusals.push(`${path}: source ${source} is not a registry tarball (git, file: and links float)`);
      continue;
    }
    const integrity = entry.integrity ?? "";
    if (!integrity || !parseIntegrity(integrity)) {
      if (!allowed) {
        refusals.push(`${path}: ${integrity ? `integrity '${integrity}' has no sha256/384/512 hash` : "no integrity hash"} (${resolved})`);
        continue;
      }
    }
    const bin = typeof entry.bin === "string" ? { [name.split("/").pop()!]: entry.bin } : (entry.bin ?? {});
    packages.push({
      path,
      name,
      version: entry.version ?? "",
      url: resolved,
      integrity: allowed && !parseIntegrity(integrity) ? "" : integrity,
      bin,
      hasInstallScript: entry.hasInstallScript === true,
    });
  }
  if (refusals.length > 0) {
    throw new HbError(
      "UNPINNED_DEPENDENCY",
      `${file} has ${refusals.length} unpinned entr${refusals.length === 1 ? "y" : "ies"}:\n  ${refusals.join("\n  ")}`,
      {
        location: { file },
        hint: "pin them (npm install from the registry records an integrity), or allow-list the names in hb.config.ts: npm: { allowUnpinned: [...] }",
      },
    );
  }
  return { packages, skipped };
}
