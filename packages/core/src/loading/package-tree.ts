import { type Dirent, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { HbError, type SourceLocation } from "../base/errors";
import { joinRel } from "../base/label";
import type { DirRecord } from "./records";
import { ALWAYS_IGNORED, vcsDirOf } from "../workspace/config";
import { BUILD_FILE } from "../workspace/workspace";
import { type EntryKind, type SourceFs, type TreeSnapshot, entryKind } from "./source-fs";

/** Which directories hb never reads: names anywhere, or workspace-relative paths. */
export interface IgnoreRules {
  names: Set<string>;
  paths: string[];
}

export function ignoreRules(extra: readonly string[] = []): IgnoreRules {
  const names = new Set(ALWAYS_IGNORED);
  const paths: string[] = [];
  for (const e of extra) {
    const clean = e.replace(/^\/+|\/+$/g, "");
    if (clean.includes("/")) paths.push(clean);
    else names.add(clean);
  }
  return { names, paths };
}

export function isIgnored(rel: string, rules: IgnoreRules): boolean {
  for (const seg of rel.split("/")) if (rules.names.has(seg)) return true;
  for (const p of rules.paths) if (rel === p || rel.startsWith(p + "/")) return true;
  return false;
}

export function hasBuildFile(fs: SourceFs, root: string, pkg: string): boolean {
  return fs.existsSync(join(root, pkg, BUILD_FILE));
}

/** Whether a directory's entries make it a package: a BUILD.ts, a file or a link to one. */
export function holdsBuildFile(entries: readonly Dirent[]): boolean {
  return entries.some((e) => e.name === BUILD_FILE && (e.isFile() || e.isSymbolicLink()));
}

/**
 * Every directory under `base` (workspace-relative), with its mtime. `intoPackages: false`
 * stops at subpackages (their root directory is listed, since a BUILD.ts appearing or
 * vanishing there changes what belongs to `base`), as Bazel's glob does.
 */
export function walkDirs(
  root: string,
  base: string,
  rules: IgnoreRules,
  opts: { intoPackages: boolean },
): { dirs: DirRecord[]; packages: string[] } {
  const dirs: DirRecord[] = [];
  const packages: string[] = [];
  const visit = (rel: string, isBase: boolean): void => {
    const abs = join(root, rel);
    let st;
    let entries;
    try {
      // stat before listing: an entry added in between moves the times recorded, not only the listing
      st = statSync(abs);
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    dirs.push({ path: rel, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    const isPackage = holdsBuildFile(entries);
    if (isPackage) packages.push(rel);
    if (isPackage && !isBase && !opts.intoPackages) return;
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const child = joinRel(rel, e.name);
      if (isIgnored(child, rules)) continue;
      visit(child, false);
    }
  };
  visit(base, true);
  packages.sort();
  dirs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { dirs, packages };
}

/** Packages at or below `base`, sorted. */
export function findPackages(root: string, base: string, rules: IgnoreRules): { packages: string[]; dirs: DirRecord[] } {
  return walkDirs(root, base, rules, { intoPackages: true });
}

/**
 * Refuses a source file that is a symlink resolving outside the workspace (the sandbox would
 * otherwise hand an action a file the workspace does not own) or into version-control metadata.
 */
const realDirs = new WeakMap<SourceFs, Map<string, string>>();

function realDir(fs: SourceFs, abs: string): string {
  let cache = realDirs.get(fs);
  if (!cache) realDirs.set(fs, (cache = new Map()));
  let r = cache.get(abs);
  if (r === undefined) cache.set(abs, (r = fs.realpathSync(abs)));
  return r;
}

export function checkInsideWorkspace(fs: SourceFs, root: string, rel: string, referencedBy: string): void {
  // One lstat for the file, and a cached realpath of its directory (which resolves any
  // symlinked directory on the way).
  const abs = join(root, rel);
  let real: string;
  try {
    real = fs.lstatSync(abs)?.isSymbolicLink() ? fs.realpathSync(abs) : join(realDir(fs, dirname(abs)), basename(abs));
  } catch {
    return;
  }
  const realRoot = realDir(fs, root);
  if (real !== realRoot && !real.startsWith(realRoot + sep)) {
    throw new HbError("SYMLINK_ESCAPE", `${rel} is a symlink to ${real}, outside the workspace (used by ${referencedBy})`, {
      hint: "copy the file into the workspace, or fetch it as a declared external input",
    });
  }
  const vcs = vcsDirOf(real.slice(realRoot.length + 1));
  if (vcs) throw vcsSourceError(rel, vcs, referencedBy, { real });
}

/** `.git/` and its kind are never sources: a CI checkout keeps its token there. */
export function vcsSourceError(
  rel: string,
  vcs: string,
  referencedBy: string,
  opts: { real?: string; location?: SourceLocation } = {},
): HbError {
  const via = opts.real ? ` (a symlink to ${opts.real})` : "";
  return new HbError(
    "BAD_ATTRIBUTE",
    `${rel}${via} is inside ${vcs}/, version-control metadata, which is never a source (used by ${referencedBy})`,
    {
      location: opts.location,
      hint: `${vcs}/ holds credentials (a CI checkout keeps its token in .git/config): take what you need from declared files, or the commit id with --stamp`,
    },
  );
}

/**
 * The names and kinds under package `pkg` (never file contents), for BUILD.ts evaluation: every
 * directory down to its subpackages (whose roots list only their BUILD.ts), ignored and `hidden`
 * directories listed as empty, `hidden` files left out, and where each symlink leads. With the
 * directories' times, for the analysis cache.
 */
export function snapshotPackage(
  root: string,
  pkg: string,
  rules: IgnoreRules,
  hidden: ReadonlySet<string>,
): { snapshot: TreeSnapshot; dirs: DirRecord[] } {
  const snapshot: TreeSnapshot = { dirs: {}, links: {} };
  const dirs: DirRecord[] = [];
  const visit = (rel: string): void => {
    const abs = join(root, rel);
    let st;
    let entries;
    try {
      st = statSync(abs);
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    dirs.push({ path: rel, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    const isPackage = holdsBuildFile(entries);
    if (isPackage && rel !== pkg) {
      snapshot.dirs[rel] = entries.filter((e) => e.name === BUILD_FILE).map((e) => [e.name, entryKind(e)]);
      return;
    }
    const listed: [string, EntryKind][] = [];
    for (const e of entries) {
      const child = joinRel(rel, e.name);
      if (hidden.has(join(root, child))) {
        if (e.isDirectory()) listed.push([e.name, "d"]);
        continue;
      }
      const kind = entryKind(e);
      listed.push([e.name, kind]);
      if (kind === "d" && !isIgnored(child, rules)) visit(child);
      else if (kind === "l") {
        let to: EntryKind | "" = "";
        let real = "";
        try {
          to = entryKind(statSync(join(root, child)));
          real = realpathSync(join(root, child));
        } catch {
          // dangling, or a loop: leads nowhere
        }
        snapshot.links[child] = [to, real];
      }
    }
    listed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    snapshot.dirs[rel] = listed;
  };
  visit(pkg);
  dirs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { snapshot, dirs };
}
