import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CONFIG_FILE } from "../../workspace/workspace";
import { type GeneratedBlock, TOOLS_DIR, planInit } from "./plan";
import { scanWorkspace } from "./scan";

export const BEGIN_MARK =
  "// --- hb init: begin (generated from package.json and tsconfig.json; `hb init` rewrites this block, edit outside it) ---";
export const END_MARK = "// --- hb init: end ---";
const GITIGNORE_LINES = [".hb/", "hb-out/"];

export type InitFileStatus = "created" | "updated" | "unchanged" | "kept";

export interface InitFile {
  /** workspace-relative */
  path: string;
  status: InitFileStatus;
  /** why a file was kept as it is (a BUILD.ts without the marks is the user's own) */
  reason?: string;
}

export interface InitResult {
  root: string;
  files: InitFile[];
  notes: string[];
  /** what the scan found, for the summary line */
  packages: number;
  packageManager: string;
}

export interface InitRequest {
  cwd: string;
  /** compute and compare only: write nothing */
  check: boolean;
}

function renderBlock(b: GeneratedBlock): string {
  const imports = [...b.imports]
    .sort(([a], [z]) => a.localeCompare(z))
    .map(([module, names]) => `import { ${[...names].sort().join(", ")} } from "${module}";`);
  return [BEGIN_MARK, ...imports, "", ...b.lines, END_MARK].join("\n");
}

/**
 * The file's new text: the generated block put where the marks are (hand edits around them kept),
 * or the whole file when there is none yet. A file without the marks is the user's own: undefined.
 */
export function mergeBlock(existing: string | undefined, block: string): string | undefined {
  if (existing === undefined) return `${block}\n`;
  const begin = existing.indexOf(BEGIN_MARK);
  const end = existing.indexOf(END_MARK);
  if (begin < 0 || end < begin) return undefined;
  return existing.slice(0, begin) + block + existing.slice(end + END_MARK.length);
}

/**
 * The workspace hb init sets up, from where it runs: the directory of an hb.config.ts above, else
 * the outermost package-manager workspace root above (package.json workspaces,
 * pnpm-workspace.yaml), else `cwd`. Run in a package's directory, it still sets up the workspace.
 */
function initRoot(cwd: string): string {
  let workspaceRoot: string | undefined;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) workspaceRoot = dir;
    else if (existsSync(join(dir, "package.json"))) {
      try {
        if ((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { workspaces?: unknown }).workspaces) workspaceRoot = dir;
      } catch {
        // a package.json that is not JSON is no workspace root; scanning says so if it is the one
      }
    }
    if (dirname(dir) === dir) return workspaceRoot ?? cwd;
  }
}

/** Write through a temporary file and a rename: never half a file on disk after a crash. */
function writeWhole(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.hb-init-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * `hb init`: read the workspace at `cwd` (its package manager's workspaces, package.json and
 * tsconfig.json files, tests, installed tools) and write hb.config.ts (when missing), //tools,
 * a BUILD.ts block per package and .gitignore lines. With `check`, write nothing and say what
 * would change (CI: BUILD.ts files drifted from what init would write).
 */
export async function initWorkspace(req: InitRequest): Promise<InitResult> {
  const root = initRoot(req.cwd);
  const scan = await scanWorkspace(root);
  const plan = planInit(scan);
  const files: InitFile[] = [];
  const put = (path: string, next: string | undefined, reason?: string) => {
    const abs = join(root, path);
    const current = existsSync(abs) ? readFileSync(abs, "utf8") : undefined;
    if (next === undefined) return files.push({ path, status: "kept", reason });
    if (current === next) return files.push({ path, status: "unchanged" });
    if (!req.check) writeWhole(abs, next);
    files.push({ path, status: current === undefined ? "created" : "updated" });
  };

  const configExists = existsSync(join(root, CONFIG_FILE));
  put(CONFIG_FILE, configExists ? undefined : plan.config, configExists ? "exists: hb init never rewrites hb.config.ts" : undefined);
  for (const [path, block] of [...plan.blocks].sort(([a], [b]) => a.localeCompare(b))) {
    if (req.check && path === `${TOOLS_DIR}/BUILD.ts`) {
      files.push({ path, status: "kept", reason: "not compared: its pins (node's path, esbuild's digest) are this machine's" });
      continue;
    }
    const abs = join(root, path);
    const current = existsSync(abs) ? readFileSync(abs, "utf8") : undefined;
    const next = mergeBlock(current, renderBlock(block));
    put(path, next, next === undefined ? "no hb init marks: a BUILD.ts of your own, left as it is" : undefined);
  }
  const gitignore = join(root, ".gitignore");
  const ignored = existsSync(gitignore) ? readFileSync(gitignore, "utf8") : undefined;
  const have = new Set((ignored ?? "").split("\n").map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !have.has(l) && !have.has(`/${l}`) && !have.has(l.replace(/\/$/, "")));
  const prefix = ignored === undefined || ignored === "" || ignored.endsWith("\n") ? (ignored ?? "") : `${ignored}\n`;
  put(".gitignore", missing.length === 0 ? (ignored ?? "") : `${prefix}${missing.join("\n")}\n`);
  return { root, files, notes: plan.notes, packages: scan.packages.length, packageManager: scan.packageManager };
}
