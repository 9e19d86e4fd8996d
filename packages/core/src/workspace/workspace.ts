import { existsSync, lstatSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { HbError } from "../base/errors";
import { OUT_DIR } from "../base/graph";

export const CONFIG_FILE = "hb.config.ts";
export const BUILD_FILE = "BUILD.ts";

export interface Workspace {
  /** absolute path of the directory holding hb.config.ts */
  root: string;
  /** where hb keeps its state: `<root>/.hb` unless overridden */
  outputBase: string;
  /** where outputs are materialized: `<root>/hb-out` */
  outDir: string;
}

/** Walks up from `start` to the directory holding hb.config.ts. */
export function findWorkspaceRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new HbError("NO_WORKSPACE", `no ${CONFIG_FILE} in ${resolve(start)} or any directory above it`, {
        hint: `run hb inside a workspace, or create one: echo 'export default {};' > ${CONFIG_FILE}`,
      });
    }
    dir = parent;
  }
}

export function openWorkspace(opts: { cwd: string; outputBase?: string }): Workspace {
  const root = findWorkspaceRoot(opts.cwd);
  const outDir = join(root, OUT_DIR);
  const outputBase = opts.outputBase ? resolve(opts.cwd, opts.outputBase) : join(root, ".hb");
  // hb rewrites and removes what is in its output base (hb clean --expunge removes all of it),
  // and hides it from BUILD.ts evaluation: never the workspace, or where hb-out/ goes
  // through symlinks, also for a path not made yet: its deepest existing directory resolved
  const real = (p: string): string => {
    if (existsSync(p)) return realpathSync(p);
    const parent = dirname(p);
    return parent === p ? p : join(real(parent), basename(p));
  };
  const [base, realRoot, realOut] = [real(outputBase), real(root), real(outDir)];
  const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  // (BUILD.ts evaluation does not see the output base: a package there would vanish)
  const why = within(realRoot, base)
    ? `holds the workspace ${root}`
    : within(base, realOut)
      ? `is in ${outDir}`
      : existsSync(join(base, BUILD_FILE))
        ? `is a package (it has a ${BUILD_FILE})`
        : undefined;
  if (why) {
    throw new HbError("USAGE", `the output base cannot be ${outputBase}: it ${why}`, {
      hint: "pick a directory of its own, such as <workspace>/.hb (the default) or one outside the workspace",
    });
  }
  // hb replaces what is inside hb-out/ at will, never hb-out itself: a user's file there stays
  // theirs, and a symlink would have outputs written wherever it leads
  const out = lstatSync(outDir, { throwIfNoEntry: false });
  if (out && !out.isDirectory()) {
    throw new HbError(
      "BAD_OUT_DIR",
      `${outDir} is ${out.isSymbolicLink() ? "a symlink" : "not a directory"}: hb puts the outputs it builds in a directory of its own there`,
      {
        hint: out.isSymbolicLink()
          ? "remove the symlink (hb makes the directory)"
          : "move that file elsewhere (hb never removes it), then run hb again",
      },
    );
  }
  return { root, outputBase, outDir };
}

/**
 * Where `file` (absolute) lies: its workspace-relative, '/'-separated path inside the workspace,
 * else the absolute path. Run records name files so: the same file is one name whoever ran hb
 * where, and two workspaces' files of one name are two.
 */
export function workspacePath(root: string, file: string): string {
  const rel = relative(root, file);
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel.split(sep).join("/");
}

/** Workspace-relative, '/'-separated path of `dir` ("" for the root); throws if outside. */
export function workspaceRelative(root: string, dir: string): string {
  const rel = relative(root, resolve(dir));
  if (rel.startsWith("..") || rel.startsWith(sep)) {
    throw new HbError("USAGE", `${dir} is outside the workspace ${root}`);
  }
  return rel.split(sep).join("/");
}
