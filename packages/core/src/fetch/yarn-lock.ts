import { posix } from "node:path";
import { parse } from "yaml";
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

// yarn.lock of yarn 2 and later (berry), laid out as its node-modules linker does: each
// importer's dependencies hoisted as high in its node_modules as node's resolution still finds
// the right version (npm's algorithm), a workspace dependency a link to that package's directory.
// Berry's checksums are of its own zip archives, not of the registry's tarballs, so every tarball
// is pinned on first fetch into hb.lock.json. yarn 1's lockfile does not say which workspace
// needs what, and is refused.

interface YarnEntry {
  version?: string;
  resolution?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
  conditions?: string;
  linkType?: string;
}

/** `name@range` -> name and range (a scope's @ is the name's). */
function splitDescriptor(d: string): { name: string; range: string } {
  const at = d.indexOf("@", 1);
  return { name: d.slice(0, at), range: d.slice(at + 1) };
}

/** `os=darwin & cpu=arm64` -> the fields npm's check reads. */
function conditionFields(conditions: string | undefined): { os?: string[]; cpu?: string[]; libc?: string[] } {
  const fields: Record<string, string[]> = {};
  for (const part of (conditions ?? "").split("&")) {
    const m = /^\s*(os|cpu|libc)=(\S+)\s*$/.exec(part);
    if (m) (fields[m[1]!] ??= []).push(m[2]!);
  }
  return fields;
}

/**
 * The registry version a resolution names: `npm:1.2.3`, or a builtin compatibility patch of one
 * (`patch:typescript@npm%3A5.4.5#optional!builtin<compat/typescript>`), which only Plug'n'Play needs.
 */
function registryVersion(range: string): string | undefined {
  if (range.startsWith("npm:")) return range.slice("npm:".length);
  const patch = /^patch:(?:@[^/@]+\/)?[^@]+@([^#]+)#(?:optional!)?builtin<[^>]+>/.exec(range);
  if (patch) return registryVersion(decodeURIComponent(patch[1]!));
  return undefined;
}

export function readYarnLock(text: string, file: string, policy: LockfilePolicy, importer: string): ParsedLockfile {
  if (/^# yarn lockfile v1/m.test(text)) {
    throw new HbError("BAD_LOCKFILE", `${file} is yarn 1's lockfile, which does not say which workspace package needs what`, {
      location: { file },
      hint: "upgrade to yarn 2 or later (yarn set version stable), or let npm read it: npm install --package-lock-only writes package-lock.json from yarn.lock",
    });
  }
  let lock: Record<string, unknown>;
  try {
    lock = parse(text) as typeof lock;
  } catch (e) {
    throw new HbError("BAD_LOCKFILE", `${file} is not valid YAML: ${(e as Error).message}`, { location: { file } });
  }
  if (!lock || typeof lock !== "object" || !lock.__metadata) {
    throw new HbError("BAD_LOCKFILE", `${file} is not a lockfile of yarn 2 or later (it has no __metadata)`, { location: { file } });
  }
  // every descriptor a key lists names its entry
  const byDescriptor = new Map<string, YarnEntry>();
  for (const [key, entry] of Object.entries(lock)) {
    if (key === "__metadata") continue;
    for (const d of key.split(",")) byDescriptor.set(d.trim(), entry as YarnEntry);
  }
  const resolve = (name: string, range: string) => byDescriptor.get(`${name}@${range}`) ?? byDescriptor.get(`${name}@npm:${range}`);
  const workspacePath = (e: YarnEntry) => {
    const r = splitDescriptor(e.resolution ?? "").range;
    return r.startsWith("workspace:") ? r.slice("workspace:".length) : undefined;
  };
  const own = [...byDescriptor.values()].find((e) => workspacePath(e) === (importer === "" ? "." : importer));
  if (!own) {
    throw new HbError("BAD_LOCKFILE", `${file} has no workspace '${importer || "."}' to lay out node_modules for`, {
      location: { file },
      hint: "declare npm_deps in the BUILD.ts of a workspace package yarn knows (package.json workspaces), or run yarn install",
    });
  }

  const packages: NpmPackage[] = [];
  const links: NpmLink[] = [];
  const skipped: ParsedLockfile["skipped"] = [];
  const refusals: string[] = [];
  /** install path -> the resolution placed there */
  const placed = new Map<string, string>();
  const prefix = importer === "" ? "" : `${importer}/`;
  // breadth first, as npm places: shallow dependencies take the high places
  const queue: { dir: string; deps: [string, string][]; optional: ReadonlySet<string> }[] = [];
  const depsOf = (e: YarnEntry): [string, string][] =>
    Object.entries({ ...e.dependencies, ...e.optionalDependencies }).sort(([a], [b]) => (a < b ? -1 : 1));
  const optionalOf = (e: YarnEntry) =>
    new Set([
      ...Object.keys(e.optionalDependencies ?? {}),
      ...Object.entries(e.dependenciesMeta ?? {}).flatMap(([n, m]) => (m.optional ? [n] : [])),
    ]);
  queue.push({ dir: "", deps: depsOf(own), optional: optionalOf(own) });
  for (let item = queue.shift(); item; item = queue.shift()) {
    for (const [name, range] of item.deps) {
      const entry = resolve(name, range);
      const at = `${item.dir ? `${item.dir}/` : ""}node_modules/${name}`;
      if (!entry) {
        refusals.push(`${at}: no entry for ${name}@${range}`);
        continue;
      }
      const ws = workspacePath(entry);
      if (ws !== undefined) {
        // only the importer's own workspace dependencies are links: a workspace package's lays out its own
        if (item.dir === "") links.push({ path: at, target: posix.relative(posix.dirname(`${prefix}${at}`), ws), bin: entry.bin });
        continue;
      }
      const resolution = entry.resolution ?? `${name}@${range}`;
      // the highest place from which node's lookup from item.dir still finds this version
      const dirs = [""];
      for (const seg of item.dir ? item.dir.split("/node_modules/") : [])
        dirs.push(dirs.length === 1 ? seg : `${dirs.at(-1)}/node_modules/${seg}`);
      let target: string | undefined;
      for (let i = dirs.length - 1; i >= 0; i--) {
        const candidate = `${dirs[i] ? `${dirs[i]}/` : ""}node_modules/${name}`;
        const there = placed.get(candidate);
        if (there === undefined) target = candidate;
        else {
          if (there === resolution) target = candidate;
          break;
        }
      }
      if (target === undefined) continue; // unreachable: item.dir's own node_modules is free or holds it
      if (placed.get(target) === resolution) continue;
      const mismatch = platformMismatch(policy.platform, conditionFields(entry.conditions));
      if (mismatch && item.optional.has(name)) {
        skipped.push({ path: target, why: `an optional package for ${mismatch}, not this platform` });
        continue;
      }
      placed.set(target, resolution);
      const { name: realName, range: resolved } = splitDescriptor(resolution);
      const version = registryVersion(resolved);
      if (version === undefined) {
        if (policy.allowUnpinned.includes(name)) skipped.push({ path: target, why: `its source ${resolved} is not a registry tarball` });
        else refusals.push(`${target}: source ${resolved} is not a registry tarball (git, file:, a patch and links float)`);
        continue;
      }
      const url = registryUrl(policy.registry, realName, version);
      packages.push({
        path: target,
        name: realName,
        version,
        url,
        integrity: integrityOf(undefined, url, policy),
        bin: entry.bin ? binMap(realName, entry.bin) : undefined,
        hasInstallScript: false,
      });
      queue.push({ dir: target, deps: depsOf(entry), optional: optionalOf(entry) });
    }
  }
  refuseFloating(file, refusals);
  packages.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { packages, links, skipped };
}
