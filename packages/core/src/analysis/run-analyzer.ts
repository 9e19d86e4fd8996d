import { existsSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { HbError } from "../errors";
import { findBwrap, systemBinds, SANDBOX_UID } from "../sandbox/bwrap";
import { spawnProcess } from "../sandbox/spawn";
import type { AnalysisRequest, AnalysisResponse } from "./graph";

export interface AnalyzerOptions {
  /** the analyzer entry point (dist/analyzer.mjs) */
  script: string;
  /** run under bwrap (false only with --sandbox=none, visibly) */
  sandboxed: boolean;
  /** paths inside the workspace the analyzer must not see: output base, hb-out, keys */
  hide: readonly string[];
  signal: AbortSignal;
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * Read-only mounts the analyzer needs besides the workspace: its own code, esbuild (package and
 * platform binary), and node when it lives outside /usr.
 */
function runtimeMounts(script: string): string[] {
  const dirs = new Set<string>([dirname(realpathSync(script))]);
  const req = createRequire(realpathSync(script));
  try {
    const esbuildDir = dirname(realpathSync(req.resolve("esbuild/package.json")));
    dirs.add(esbuildDir);
    const platformReq = createRequire(join(esbuildDir, "package.json"));
    const platformPkg = `@esbuild/${process.platform}-${process.arch}/package.json`;
    dirs.add(dirname(realpathSync(platformReq.resolve(platformPkg))));
  } catch {
    // esbuild resolves some other way (ESBUILD_BINARY_PATH); the analyzer reports it if not
  }
  const node = realpathSync(process.execPath);
  if (!node.startsWith("/usr/")) dirs.add(dirname(dirname(node)));
  return [...dirs].sort().flatMap((d) => ["--ro-bind", d, d]);
}

/**
 * Runs loading and analysis in a separate process: under bwrap it sees the workspace read-only
 * and nothing else of the host (no network, no env, no keys, no tokens), because a pull
 * request's BUILD.ts is untrusted code and node:vm is no security boundary.
 */
export async function runAnalyzer(req: AnalysisRequest, opts: AnalyzerOptions): Promise<AnalysisResponse> {
  const node = process.execPath;
  let file: string;
  let args: string[];
  let env: Record<string, string>;
  if (opts.sandboxed) {
    const root = req.workspaceRoot;
    const hides: string[] = [];
    for (const h of opts.hide) {
      if (!under(h, root) || !existsSync(h)) continue;
      if (statSync(h).isDirectory()) hides.push("--tmpfs", h);
      else hides.push("--ro-bind", "/dev/null", h);
    }
    file = findBwrap();
    args = [
      "--unshare-all",
      "--die-with-parent",
      "--new-session",
      "--cap-drop", "ALL",
      "--uid", String(SANDBOX_UID),
      "--gid", String(SANDBOX_UID),
      "--clearenv",
      "--setenv", "PATH", "/usr/bin:/bin",
      "--setenv", "HOME", "/tmp",
      ...systemBinds(),
      "--proc", "/proc",
      "--dev", "/dev",
      "--tmpfs", "/tmp",
      "--ro-bind", root, root,
      ...hides,
      ...runtimeMounts(opts.script),
      "--chdir", root,
      "--", node, opts.script,
    ];
    env = {};
  } else {
    file = node;
    args = [opts.script];
    env = { PATH: "/usr/bin:/bin", HOME: "/tmp" };
  }
  const r = await spawnProcess(file, args, { env, signal: opts.signal, input: JSON.stringify(req) });
  if (r.canceled) throw new HbError("INTERRUPTED", "interrupted during analysis");
  const out = r.stdout.trim();
  if (r.exitCode === 0 && out.startsWith("{")) {
    try {
      return JSON.parse(out) as AnalysisResponse;
    } catch {
      // fall through to the error below
    }
  }
  throw new HbError("INTERNAL", `the BUILD.ts analyzer failed (exit ${r.exitCode ?? r.signal}):\n${r.stderr.trim() || out || r.spawnError || "(no output)"}`);
}
