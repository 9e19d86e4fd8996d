import { realpathSync } from "node:fs";
import { dirname } from "node:path";
import { HbError } from "../base/errors";
import { serveEvaluator } from "../loading/host-protocol";
import { LoadingHost } from "../loading/loading-host";
import { findBwrap, systemBinds, SANDBOX_UID } from "./bwrap";
import { type AnalysisResponse, type EvaluationResult, analysisResponse } from "../analysis/evaluator";
import type { AnalysisRequest } from "../loading/records";
import { DEFAULT_LOADING } from "../workspace/config";
import { CONFIG_FILE } from "../workspace/workspace";

/** How much longer than loading.timeoutSeconds the evaluator may be silent: it stops a slow BUILD.ts itself first. */
const WATCHDOG_GRACE_SECONDS = 5;

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
  // The evaluator's heap is set when it starts, and hb.config.ts (evaluated in it) may ask for
  // another: then it is started again with that one.
  let memoryMiB = DEFAULT_LOADING.memoryMiB;
  for (;;) {
    const run = await runEvaluatorOnce(req, opts, memoryMiB);
    if (run.kind === "done") return run.response;
    memoryMiB = run.memoryMiB;
  }
}

type Run = { kind: "done"; response: AnalysisResponse } | { kind: "restart"; memoryMiB: number };

async function runEvaluatorOnce(req: Omit<AnalysisRequest, "workspaceRealRoot">, opts: AnalyzerOptions, memoryMiB: number): Promise<Run> {
  const node = process.execPath;
  const heap = `--max-old-space-size=${memoryMiB}`;
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
      heap,
      opts.script,
    ];
  } else {
    file = node;
    args = [heap, opts.script];
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
  // The evaluator stops a BUILD.ts running too long itself, naming it; this is for what it cannot
  // stop (a rule's implementation looping, a hang): no word to hb for longer than the limit.
  let restart: number | undefined;
  let silentFor: number | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  let timeoutSeconds = DEFAULT_LOADING.timeoutSeconds;
  const rearm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(
      () => {
        silentFor = timeoutSeconds;
        child.kill("SIGKILL");
      },
      (timeoutSeconds + WATCHDOG_GRACE_SECONDS) * 1000,
    );
  };
  host.onLimits = (limits) => {
    timeoutSeconds = limits.timeoutSeconds;
    rearm();
    if (limits.memoryMiB !== memoryMiB) {
      restart = limits.memoryMiB;
      child.kill("SIGKILL");
    }
  };
  rearm();
  let served;
  try {
    served = await serveEvaluator<EvaluationResult>(host, request, child.stdout, child.stdin, rearm);
  } catch (e) {
    child.kill("SIGKILL");
    await child;
    if (opts.signal.aborted) throw new HbError("INTERRUPTED", "interrupted during analysis");
    throw e;
  } finally {
    clearTimeout(watchdog);
  }
  child.stdin.end();
  const r = await child;
  if (r.isCanceled || opts.signal.aborted) throw new HbError("INTERRUPTED", "interrupted during analysis");
  if (restart !== undefined) return { kind: "restart", memoryMiB: restart };
  const running = host.lastServed.length > 0 ? host.lastServed.join(", ") : CONFIG_FILE;
  if (silentFor !== undefined) {
    throw new HbError(
      "BUILD_FILE_ERROR",
      `analysis did not finish within ${silentFor} s, last running code from ${running}: a loop that never ends?`,
      {
        location: { file: host.lastServed[0] ?? CONFIG_FILE },
        hint: "BUILD.ts files and rule implementations only declare targets and actions; if they need longer, raise loading.timeoutSeconds in hb.config.ts",
      },
    );
  }
  const stderr = String(r.stderr ?? "");
  if (!served && /JavaScript heap out of memory|Reached heap limit/.test(stderr)) {
    throw new HbError("BUILD_FILE_ERROR", `analysis ran out of memory (more than ${memoryMiB} MiB), last running code from ${running}`, {
      location: { file: host.lastServed[0] ?? CONFIG_FILE },
      hint: "a BUILD.ts only declares targets; if yours needs more, raise loading.memoryMiB in hb.config.ts",
    });
  }
  if (!served) {
    const why = r.exitCode !== undefined ? `exit ${r.exitCode}` : (r.signal ?? "no exit code");
    throw new HbError(
      "INTERNAL",
      `the BUILD.ts analyzer failed (${why}):\n${stderr.trim() || (r.cause as Error | undefined)?.message || "(no output)"}`,
    );
  }
  return { kind: "done", response: analysisResponse(host, served) };
}
