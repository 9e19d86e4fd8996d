import fg from "fast-glob";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "../errors";
import { BUILD_FILE } from "../workspace/workspace";
import { checkInsideWorkspace, type IgnoreRules, isIgnored, joinRel } from "./package-tree";

/**
 * Bazel's glob: files (not directories) under package `pkg` matching `include` and not
 * `exclude`, relative to the package, sorted; never crossing into a subpackage or an ignored
 * directory. Used by BUILD.ts evaluation and by the analysis cache's re-check, so both agree.
 */
export function globPackage(
  root: string,
  pkg: string,
  include: readonly string[],
  exclude: readonly string[],
  rules: IgnoreRules,
): string[] {
  for (const p of [...include, ...exclude]) {
    if (p.startsWith("/") || p.split("/").includes("..")) {
      throw new HbError("BAD_ATTRIBUTE", `glob pattern '${p}' must be relative to the package and stay inside it`);
    }
  }
  if (include.length === 0) return [];
  const pkgDir = join(root, pkg);
  // Symlinks are not followed while walking (a link to "/" must not be crawled); a symlink that
  // matches is kept when it leads to a file, and refused when that file is outside the workspace.
  const entries = fg.sync([...include], {
    cwd: pkgDir,
    ignore: [...exclude, ...[...rules.names].map((n) => `**/${n}/**`)],
    onlyFiles: false,
    objectMode: true,
    dot: false,
    followSymbolicLinks: false,
    unique: true,
  });
  const matches: string[] = [];
  for (const e of entries) {
    if (e.dirent.isFile()) matches.push(e.path);
    else if (e.dirent.isSymbolicLink()) {
      checkInsideWorkspace(root, joinRel(pkg, e.path), `glob in //${pkg}`);
      try {
        if (statSync(join(pkgDir, e.path)).isFile()) matches.push(e.path);
      } catch {
        // a dangling link matches nothing
      }
    }
  }
  const subpackage = new Map<string, boolean>();
  const inSubpackage = (rel: string): boolean => {
    // the package itself is never a subpackage of itself; check every directory between
    let dir = rel.lastIndexOf("/") < 0 ? "" : rel.slice(0, rel.lastIndexOf("/"));
    while (dir !== "") {
      let known = subpackage.get(dir);
      if (known === undefined) {
        known = existsSync(join(pkgDir, dir, BUILD_FILE));
        subpackage.set(dir, known);
      }
      if (known) return true;
      dir = dir.lastIndexOf("/") < 0 ? "" : dir.slice(0, dir.lastIndexOf("/"));
    }
    return false;
  };
  const out: string[] = [];
  for (const m of matches) {
    const wsRel = joinRel(pkg, m);
    if (isIgnored(wsRel, rules) || inSubpackage(m)) continue;
    out.push(m);
  }
  return out.sort();
}
