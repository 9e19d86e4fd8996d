import { HbError } from "../base/errors";
import { parseIntegrity } from "../base/integrity";
import type { NpmPlatform } from "./platform";

// The tree a lockfile lays out, whatever its format: packages from tarballs, links, and what is left out.

/** One package of a lockfile, as hb installs it. */
export interface NpmPackage {
  /** where it goes, below the importer's directory: `node_modules/a`, `node_modules/a/node_modules/b`, `node_modules/.pnpm/a@1/node_modules/a` */
  path: string;
  name: string;
  version: string;
  /** tarball URL */
  url: string;
  /** SRI string: the lockfile's, or hb.lock.json's; "" when it is pinned on this first fetch */
  integrity: string;
  /** command name -> file inside the package; undefined: as the package's own package.json says */
  bin?: Record<string, string>;
  hasInstallScript: boolean;
}

/** A symlink of the tree: a workspace package, or (pnpm) a package placed elsewhere in the tree. */
export interface NpmLink {
  /** below the importer's directory, as NpmPackage.path */
  path: string;
  /** the link's target, relative to its directory */
  target: string;
  /** commands of the package it leads to, linked in node_modules/.bin as well, when the lockfile says */
  bin?: Record<string, string>;
  /** the package it leads to, when its commands are in its own package.json (pnpm) */
  pkg?: NpmPackage;
}

export interface LockfilePolicy {
  /** registry for packages the lockfile records without `resolved` (npm's omit-lockfile-registry-resolved) */
  registry: string;
  /** package names allowed from a non-registry source (git, file:): skipped, not installed */
  allowUnpinned: readonly string[];
  /** hb.lock.json: tarball URL -> integrity, for entries the lockfile gives none */
  pins: ReadonlyMap<string, string>;
  /** optional packages for another os, cpu or libc are not installed, as npm does */
  platform: NpmPlatform;
}

export interface ParsedLockfile {
  packages: NpmPackage[];
  links: NpmLink[];
  /** entries not installed, with why: another platform's optional package, an allow-listed git source */
  skipped: { path: string; why: string }[];
}

export function registryUrl(registry: string, name: string, version: string): string {
  const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
  return `${registry.replace(/\/+$/, "")}/${name}/-/${base}-${version}.tgz`;
}

/** The bin field of a manifest as a map (a string names one command, after the package). */
export function binMap(name: string, bin: unknown): Record<string, string> | undefined {
  if (typeof bin === "string") return { [name.split("/").pop()!]: bin };
  if (typeof bin === "object" && bin !== null)
    return Object.fromEntries(Object.entries(bin).filter((e): e is [string, string] => typeof e[1] === "string"));
  return undefined;
}

/**
 * The integrity hb checks a tarball against: the lockfile's when it has a sha256/384/512 hash,
 * else hb.lock.json's pin, else "" (pinned on this first fetch). A weak one (sha1) is no pin.
 */
export function integrityOf(lockfileIntegrity: string | undefined, url: string, policy: LockfilePolicy): string {
  if (lockfileIntegrity && parseIntegrity(lockfileIntegrity)) return lockfileIntegrity;
  return policy.pins.get(url) ?? "";
}

/** Refuses entries that float, together, naming each. */
export function refuseFloating(file: string, refusals: readonly string[]): void {
  if (refusals.length === 0) return;
  throw new HbError(
    "UNPINNED_DEPENDENCY",
    `${file} has ${refusals.length} unpinned entr${refusals.length === 1 ? "y" : "ies"}:\n  ${refusals.join("\n  ")}`,
    {
      location: { file },
      hint: "install them from the registry (a tarball URL is pinned by its integrity, or in hb.lock.json on first fetch), or allow-list the names in hb.config.ts: npm: { allowUnpinned: [...] } to leave them out",
    },
  );
}
