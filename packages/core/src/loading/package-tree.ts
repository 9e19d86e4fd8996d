import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { HbError } from "../errors";
import type { DirRecord } from "../analysis/graph";
import { ALWAYS_IGNORED } from "../workspace/config";
import { BUILD_FILE } from "../workspace/workspace";

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

export function joinRel(a: string, b: string): string {
  return a === "" ? b : b === "" ? a : `${a}/${b}`;
}

export function hasBuildFile(root: string, pkg: string): boolean {
  return existsSync(join(root, pkg, BUILD_FILE));
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
    const isPackage = entries.some((e) => e.name === BUILD_FILE && (e.isFile() || e.isSymbolicLink()));
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
 * Refuses a source file that is a symlink resolving outside the workspace: the sandbox would
 * otherwise hand an action a file the workspace does not own.
 */
const realDirs = new Map<string, string>();

function realDir(abs: string): string {
  let r = realDirs.get(abs);
  if (r === undefined) realDirs.set(abs, (r = realpathSync(abs)));
  return r;
}

export function checkInsideWorkspace(root: string, rel: string, referencedBy: string): void {
  // One lstat for the file, and a cached realpath of its directory (which resolves any
  // symlinked directory on the way).
  const abs = join(root, rel);
  let real: string;
  try {
    real = lstatSync(abs).isSymbolicLink() ? realpathSync(abs) : join(realDir(dirname(abs)), basename(abs));
  } catch {
    return;
  }
  const realRoot = realDir(root);
  if (real !== realRoot && !real.startsWith(realRoot + sep)) {
    throw new HbError("SYMLINK_ESCAPE", `${rel} is a symlink to ${real}, outside the workspace (used by ${referencedBy})`, {
      hint: "copy the file into the workspace, or fetch it as a declared external input",
    });
  }
}
