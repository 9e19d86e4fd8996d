import fg from "fast-glob";
import { join } from "node:path";
import { HbError } from "../base/errors";
import { vcsDirOf } from "../workspace/config";
import { BUILD_FILE } from "../workspace/workspace";
import { checkInsideWorkspace, type IgnoreRules, isIgnored } from "./package-tree";
import { joinRel } from "../base/label";
import type { SourceFs } from "./source-fs";

/**
 * Bazel's glob: files (not directories) under package `pkg` matching `include` and not
 * `exclude`, relative to the package, sorted; never crossing into a subpackage or an ignored
 * directory. Used by BUILD.ts evaluation (over a snapshot of the package) and by the analysis
 * cache's re-check (over the files themselves), so both agree.
 */
export function globPackage(
  fs: SourceFs,
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
    const vcs = vcsDirOf(p);
    if (vcs) {
      throw new HbError("BAD_ATTRIBUTE", `glob pattern '${p}' reaches into ${vcs}/, version-control metadata, which is never a source`, {
        hint: `${vcs}/ holds credentials (a CI checkout keeps its token in .git/config); globs never match inside it`,
      });
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
    // fast-glob copies the adapter's own properties: methods of a class instance must be given as such
    fs: {
      lstatSync: fs.lstatSync.bind(fs),
      statSync: fs.statSync.bind(fs),
      readdirSync: fs.readdirSync.bind(fs),
    } as unknown as Partial<fg.FileSystemAdapter>,
  });
  const matches: string[] = [];
  for (const e of entries) {
    if (e.dirent.isFile()) matches.push(e.path);
    else if (e.dirent.isSymbolicLink()) {
      checkInsideWorkspace(fs, root, joinRel(pkg, e.path), `glob in //${pkg}`);
      // a dangling link matches nothing
      if (fs.statSync(join(pkgDir, e.path), { throwIfNoEntry: false })?.isFile()) matches.push(e.path);
    }
  }
  const subpackage = new Map<string, boolean>();
  const inSubpackage = (rel: string): boolean => {
    // the package itself is never a subpackage of itself; check every directory between
    let dir = rel.lastIndexOf("/") < 0 ? "" : rel.slice(0, rel.lastIndexOf("/"));
    while (dir !== "") {
      let known = subpackage.get(dir);
      if (known === undefined) {
        known = fs.existsSync(join(pkgDir, dir, BUILD_FILE));
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

/** One path segment of a glob pattern as a regular expression: `*`, `?`, `[...]`, `{a,b}`. */
function segmentRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 1);
      if (close < 0) re += "\\[";
      else {
        re += `[${segment
          .slice(i + 1, close)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else if (c === "{") re += "(?:";
    else if (c === "}") re += ")";
    else if (c === ",") re += "|";
    else re += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Whether `pattern` (relative to a package) can match a file below its directory `dir`. */
function reachesInto(pattern: string, dir: string): boolean {
  const ps = pattern.split("/");
  const ds = dir.split("/");
  for (let i = 0; i < ds.length; i++) {
    const p = ps[i];
    if (p === "**") return true;
    // the pattern's last segment names files: it cannot be a directory a file lies below
    if (p === undefined || i === ps.length - 1) return false;
    if (!/[*?[{]/.test(p) ? p !== ds[i] : !segmentRegExp(p).test(ds[i]!)) return false;
  }
  return ps.length > ds.length;
}

/**
 * The subpackages of `pkg` (workspace-relative) that an `include` pattern reaches into: a glob
 * stops at them, so when it matched nothing, its files are theirs. Walks the package's tree
 * (names only) down to its subpackages' roots.
 */
export function subpackagesReached(fs: SourceFs, root: string, pkg: string, include: readonly string[], rules: IgnoreRules): string[] {
  const reached: string[] = [];
  const visit = (rel: string) => {
    let entries;
    try {
      entries = fs.readdirSync(join(root, pkg, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (isIgnored(joinRel(pkg, child), rules)) continue;
      if (!fs.existsSync(join(root, pkg, child, BUILD_FILE))) visit(child);
      else if (include.some((p) => reachesInto(p, child))) reached.push(joinRel(pkg, child));
    }
  };
  visit("");
  return reached.sort();
}
