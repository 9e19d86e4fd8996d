import { realpathSync } from "node:fs";
import { dirname } from "node:path";
import { HbError } from "../base/errors";
import { serveEvaluator } from "../loading/host-protocol";
import { LoadingHost } from "../loading/loading-host";
import { findBwrap, systemBinds, SANDBOX_UID } from "./bwrap";
import { type AnalysisResponse, type EvaluationResult, analysisResponse } from "../analysis/evaluator";
import type { AnalysisRequest } from "../loading/records";

export interface AnalyzerOptions {
  /** the analyzer entry point (dist/analyzer.mjs) */
  script: string;
  /** run under bwrap (false only with --sandbox=none, visibly) */
  sandboxed: boolean;
  /** paths inside the workspace no listing shows: output base, hb-out, keys */
  hide: readonly string[];
  signal: AbortSignal;
}

/** Read-only mounts the analyzer needs: its own code, and node when it lives outside /usr. */
function runtimeMounts(script: string): string[] {
  const dirs = new Set<string>([dirname(realpathSync(script))]);
  const node = realpathSync(process.execPath);
  if (!node.startsWith("/usr/")) dirs.add(dirname(dirname(node)));
  return [...dirs].sort().flatMap((d) => ["--ro-bind", d, d]);
}

/**
 * Runs loading and analysis in a separate process, because a pull request's BUILD.ts is untrusted
 * code and node:vm is no security boundary. Under bwrap it sees no workspace file at all (no
 * network, no env, no keys, no tokens, no .git/): this process serves it the bundled BUILD.ts
 * files and the names in the package trees it asks for (LoadingHost), and records what it served
 * for the analysis cache.
 */
export async function runAnalyzer(req: Omit<AnalysisRequest, "workspaceRealRoot">, opts: AnalyzerOptions): Promise<AnalysisResponse> {
  const node = process.execPath;
  let file: string;
  let args: string[];
  if (opts.sandboxed) {
    file = findBwrap();
    args = [
      "--unshare-all",
      "--die-with-parent",
      "--new-session",
      "--cap-drop",
      "ALL",
      "--uid",
      String(SANDBOX_UID),
      "--gid",
      String(SANDBOX_UID),
      "--clearenv",
      "--setenv",
      "PATH",
      "/usr/bin:/bin",
      "--setenv",
      "HOME",
      "/tmp",
      ...systemBinds(),
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--tmpfs",
      "/tmp",
      ...runtimeMounts(opts.script),
      "--chdir",
      "/tmp",
      "--",
      node,
      opts.script,
    ];
  } else {
    file = node;
    args = [opts.script];
  }
  const host = new LoadingHost(req.workspaceRoot, opts.hide);
  const request: AnalysisRequest = { ...req, workspaceRealRoot: realpathSync(req.workspaceRoot) };
  const { execa } = await import("execa");
  const child = execa(file, args, {
    env: opts.sandboxed ? {} : { PATH: "/usr/bin:/bin", HOME: "/tmp" },
    extendEnv: false,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    buffer: { stdout: false, stderr: true },
    reject: false,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 1000,
    cleanup: true,
  });
  let served;
  try {
    served = await serveEvaluator<EvaluationResult>(host, request, child.stdout, child.stdin);
  } catch (e) {
    child.kill("SIGKILL");
    await child;
    if (opts.signal.aborted) throw new HbError("INTERRUPTED", "interrupted during analysis");
    throw e;
  }
  child.stdin.end();
  const r = await child;
  if (r.isCanceled || opts.signal.aborted) throw new HbError("INTERRUPTED", "interrupted during analysis");
  if (!served) {
    const why = r.exitCode !== undefined ? `exit ${r.exitCode}` : (r.signal ?? "no exit code");
    throw new HbError(
      "INTERNAL",
      `the BUILD.ts analyzer failed (${why}):\n${String(r.stderr ?? "").trim() || (r.cause as Error | undefined)?.message || "(no output)"}`,
    );
  }
  return analysisResponse(host, served);
}
