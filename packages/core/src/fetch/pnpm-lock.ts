import { createHash } from "node:crypto";
import { posix } from "node:path";
import { parse } from "yaml";
import { HbError } from "../base/errors";
import {
  type LockfilePolicy,
  type NpmLink,
  type NpmPackage,
  type ParsedLockfile,
  integrityOf,
  refuseFloating,
  registryUrl,
} from "./npm-tree";
import { platformMismatch } from "./platform";

// pnpm-lock.yaml (lockfile v6 and v9), laid out as pnpm lays it out: every package once, in
// node_modules/.pnpm/<id>/node_modules/<name>, beside links to its own dependencies; each
// importer's node_modules holds links to what it depends on; node_modules/.pnpm/node_modules
// hoists one version of every package (pnpm's hidden hoisting, for what packages require without
// declaring). The root importer's tree holds the store; a workspace package's tree holds only its
// links, into the root's: a test of that package takes both trees.

interface PnpmPackageMeta {
  resolution?: { integrity?: string; tarball?: string; type?: string; repo?: string };
  os?: string[];
  cpu?: string[];
  libc?: string[];
  requiresBuild?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

interface PnpmDeps {
  dependencies?: Record<string, string | { version: string }>;
  devDependencies?: Record<string, string | { version: string }>;
  optionalDependencies?: Record<string, string | { version: string }>;
}

interface PnpmLock extends PnpmDeps {
  lockfileVersion?: string | number;
  importers?: Record<string, PnpmDeps>;
  packages?: Record<string, PnpmPackageMeta>;
  snapshots?: Record<string, PnpmPackageMeta>;
}

/** `@scope/name@1.0.0(peer@2)` -> name and version (without the peers' suffix). */
function splitId(id: string): { name: string; version: string } {
  const at = id.indexOf("@", 1);
  const paren = id.indexOf("(");
  return { name: id.slice(0, at), version: id.slice(at + 1, paren < 0 ? undefined : paren) };
}

/** The directory name pnpm gives a package id in node_modules/.pnpm (short enough for any filesystem). */
function storeDir(id: string): string {
  const flat = id
    .replace(/\)\(/g, "_")
    .replace(/[()]/g, (c) => (c === "(" ? "_" : ""))
    .replace(/[\\/:*?"<>|]/g, "+");
  if (flat.length <= 120) return flat;
  return `${flat.slice(0, 87)}_${createHash("sha256").update(flat).digest("hex").slice(0, 32)}`;
}

/** The package id a dependency reference names: `1.0.0(x@1)` of `a` is `a@1.0.0(x@1)`; an alias `b@2.0.0` names b. */
function refId(alias: string, ref: string): string {
  return /^(@[^@/]+\/)?[^@/][^@]*@/.test(ref) && !/^\d/.test(ref) ? ref : `${alias}@${ref}`;
}

const versionOf = (v: string | { version: string }) => (typeof v === "string" ? v : v.version);

export function readPnpmLock(text: string, file: string, policy: LockfilePolicy, importer: string): ParsedLockfile {
  let lock: PnpmLock;
  try {
    lock = parse(text) as PnpmLock;
  } catch (e) {
    throw new HbError("BAD_LOCKFILE", `${file} is not valid YAML: ${(e as Error).message}`, { location: { file } });
  }
  const major = Number.parseFloat(String(lock?.lockfileVersion ?? "0"));
  if (!(major >= 6)) {
    throw new HbError(
      "BAD_LOCKFILE",
      `${file} has lockfileVersion ${lock?.lockfileVersion ?? "?"}; hb reads pnpm lockfiles of version 6 and 9`,
      {
        location: { file },
        hint: "regenerate it with pnpm 8 or later: pnpm install --lockfile-only",
      },
    );
  }
  // v9: metadata in packages (name@version), the dependency graph in snapshots (with peers);
  // v6: both in packages, keyed /name@version(peers)
  const snapshots = new Map<string, PnpmPackageMeta>();
  const metaOf = new Map<string, PnpmPackageMeta>();
  if (major >= 9) {
    for (const [id, meta] of Object.entries(lock.packages ?? {})) metaOf.set(id, meta);
    for (const [id, snap] of Object.entries(lock.snapshots ?? {})) snapshots.set(id, snap ?? {});
  } else {
    for (const [key, meta] of Object.entries(lock.packages ?? {})) {
      const id = key.replace(/^\//, "");
      snapshots.set(id, meta);
      const { name, version } = splitId(id);
      metaOf.set(`${name}@${version}`, meta);
    }
  }
  const importers = lock.importers ?? { ".": lock };
  const own = importers[importer === "" ? "." : importer];
  if (!own) {
    throw new HbError("BAD_LOCKFILE", `${file} has no importer '${importer}' to lay out node_modules for`, {
      location: { file },
      hint: "declare npm_deps in the BUILD.ts of a workspace package pnpm knows (pnpm-workspace.yaml), or run pnpm install",
    });
  }

  const packages: NpmPackage[] = [];
  const links: NpmLink[] = [];
  const skipped: ParsedLockfile["skipped"] = [];
  const refusals: string[] = [];
  const installed = new Map<string, NpmPackage>();
  const storePath = (id: string) => `node_modules/.pnpm/${storeDir(id)}/node_modules/${splitId(id).name}`;
  const link = (at: string, to: string) => posix.relative(posix.dirname(at), to);

  for (const id of [...snapshots.keys()].sort()) {
    const { name, version } = splitId(id);
    const meta = { ...metaOf.get(`${name}@${version}`), ...snapshots.get(id) };
    const mismatch = platformMismatch(policy.platform, meta);
    if (mismatch && meta.optional) {
      skipped.push({ path: storePath(id), why: `an optional package for ${mismatch}, not this platform` });
      continue;
    }
    const res = meta.resolution ?? {};
    const url = res.tarball ?? (res.type || res.repo ? undefined : registryUrl(policy.registry, name, version));
    if (!url || !/^https?:\/\//.test(url)) {
      if (policy.allowUnpinned.includes(name)) skipped.push({ path: storePath(id), why: `its source is not a tarball URL` });
      else refusals.push(`${id}: its source ${JSON.stringify(res)} is not a registry tarball (git, file: and links float)`);
      continue;
    }
    const pkg: NpmPackage = {
      path: storePath(id),
      name,
      version,
      url,
      integrity: integrityOf(res.integrity, url, policy),
      hasInstallScript: meta.requiresBuild === true,
    };
    installed.set(id, pkg);
    if (importer === "") packages.push(pkg);
  }
  refuseFloating(file, refusals);

  if (importer === "") {
    // each package's dependencies, beside it
    for (const id of installed.keys()) {
      const snap = snapshots.get(id)!;
      for (const [alias, ref] of Object.entries({ ...snap.dependencies, ...snap.optionalDependencies })) {
        const dep = refId(alias, ref);
        if (!installed.has(dep)) continue;
        const at = `node_modules/.pnpm/${storeDir(id)}/node_modules/${alias}`;
        links.push({ path: at, target: link(at, storePath(dep)) });
      }
    }
    // hidden hoisting: one version of each package where any package's require finds it
    const hoisted = new Map<string, string>();
    for (const id of [...installed.keys()].sort()) if (!hoisted.has(splitId(id).name)) hoisted.set(splitId(id).name, id);
    for (const [name, id] of hoisted) {
      const at = `node_modules/.pnpm/node_modules/${name}`;
      links.push({ path: at, target: link(at, storePath(id)) });
    }
  }
  // the importer's own dependencies; the store is the root importer's (lockfile-relative paths)
  const direct = { ...own.dependencies, ...own.devDependencies, ...own.optionalDependencies };
  const prefix = importer === "" ? "" : `${importer}/`;
  for (const [alias, spec] of Object.entries(direct).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ref = versionOf(spec);
    const at = `${prefix}node_modules/${alias}`;
    if (ref.startsWith("link:")) {
      links.push({ path: `node_modules/${alias}`, target: link(at, posix.join(importer, ref.slice("link:".length))) });
      continue;
    }
    const dep = refId(alias, ref);
    const pkg = installed.get(dep);
    if (!pkg) continue;
    // its commands go to this importer's node_modules/.bin, read from its package.json
    links.push({ path: `node_modules/${alias}`, target: link(at, storePath(dep)), pkg });
  }
  return { packages, links, skipped };
}
