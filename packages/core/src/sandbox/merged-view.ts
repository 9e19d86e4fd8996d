import { posix } from "node:path";
import { HbError } from "../base/errors";
import { type ExecPath, OUT_DIR } from "../base/graph";
import type { ActionInput } from "../keying/action-keyer";

/**
 * The merged view (DESIGN.md, Sandbox): inside an action's sandbox, generated files appear at
 * `hb-out/<package>/<path>` and, as well, at `<package>/<path>` beside the package's sources, as
 * if the package had been built in place: workspace links (`node_modules/@x/y -> ../../packages/y`),
 * `exports` maps (`./dist/index.js`), tsc project references and a test's `../cli/dist/x.mjs`
 * resolve unchanged. The action's own outputs too: a tool writing `dist/` beside its sources
 * writes into its outputs directory. `hb-out/` stays what the user sees; the source tree is never
 * written. The view adds no input (every file in it is a declared input or output, by the same
 * bytes), so it changes no action key.
 */
export interface MergedView {
  /** generated inputs staged a second time, at their package paths */
  files: ActionInput[];
  /** the action's own output directories, bound writable at their package paths: package path -> path below the outputs directory */
  dirs: { path: ExecPath; outRel: string }[];
  /** the action's own output files at the top of their package: a link at the package path to where they are written */
  links: { path: ExecPath; target: string }[];
}

/** Where a generated file appears beside its package's sources: its path without `hb-out/`. */
export function packagePath(execPath: ExecPath): ExecPath | undefined {
  return execPath.startsWith(`${OUT_DIR}/`) ? execPath.slice(OUT_DIR.length + 1) : undefined;
}

/**
 * The merged view of one action: `writableAt` is its package's `hb-out/<package>`, `dirBinds`
 * the workspace directories (pinned toolchains) bound whole into its execroot. A source input
 * where a generated file of other bytes would appear is an error naming both: the view never
 * hides a file.
 */
export function mergedView(
  owner: string,
  inputs: readonly ActionInput[],
  writableAt: ExecPath,
  outputs: readonly ExecPath[],
  outputDirs: readonly ExecPath[],
  dirBinds: readonly { path: ExecPath }[],
): MergedView {
  const pkgDir = packagePath(writableAt) ?? "";
  // the top entries of the package its outputs make: `dist` for dist/a.js, `x.js` for x.js
  const own = new Map<string, boolean>();
  for (const o of outputs) {
    const rel = o.slice(writableAt.length + 1);
    const slash = rel.indexOf("/");
    if (slash < 0) own.set(rel, own.get(rel) ?? false);
    else own.set(rel.slice(0, slash), true);
  }
  for (const d of outputDirs) own.set(d.slice(writableAt.length + 1).split("/")[0]!, true);
  const ownAt = (seg: string) => (pkgDir ? `${pkgDir}/${seg}` : seg);
  const ownDirs = [...own].filter(([, isDir]) => isDir).map(([seg]) => ownAt(seg));
  const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

  // what the view must not cover: sources, and workspace directories bound whole
  const sources = new Map(inputs.filter((f) => packagePath(f.path) === undefined).map((f) => [f.path, f]));
  const clash = (source: string, generated: string, at: string) =>
    new HbError(
      "MERGED_VIEW_CONFLICT",
      `${owner}: ${source} is an input, and the generated ${generated} appears at ${at} in the sandbox (the merged view puts a package's outputs beside its sources)`,
      { hint: `rename the output, or take ${source} out of the target's inputs (a stale build output checked in or left in the tree?)` },
    );
  const checkFree = (at: string, generated: string) => {
    if (sources.has(at)) throw clash(at, generated, at);
    for (const d of dirBinds) if (under(at, d.path) || under(d.path, at)) throw clash(`${d.path}/`, generated, at);
  };

  const files: ActionInput[] = [];
  for (const f of inputs) {
    const at = packagePath(f.path);
    // the package's own output directories show these already: they are bound there
    if (at === undefined || ownDirs.some((d) => under(at, d))) continue;
    // the same bytes there already (a toolchain pinned in node_modules/ that npm_deps also lays
    // out): nothing is hidden, and the source stands for both
    const source = sources.get(at);
    if (source && !source.symlink && !f.symlink && source.hash === f.hash && source.executable === f.executable) continue;
    checkFree(at, f.path);
    files.push({ ...f, path: at });
  }
  const dirs: MergedView["dirs"] = [];
  const links: MergedView["links"] = [];
  for (const [seg, isDir] of own) {
    const at = ownAt(seg);
    checkFree(at, `${writableAt}/${seg}`);
    for (const s of sources.keys()) if (under(s, at)) throw clash(s, `${writableAt}/${seg}/`, `${at}/`);
    if (isDir) dirs.push({ path: at, outRel: seg });
    else links.push({ path: at, target: posix.relative(posix.dirname(at), `${writableAt}/${seg}`) });
  }
  return { files, dirs, links };
}
