import { HbError } from "../base/errors";
import { checkGraph } from "../analysis/graph-check";
import { analysisRequestKey, loadCachedAnalysis, storeAnalysis, type CachedAnalysis } from "../analysis/analysis-cache";
import { OutputBase } from "../caching/output-base";
import type { WorkspaceConfig } from "../workspace/config";
import { lockOutputBase } from "../workspace/lock";
import type { AnalysisInputs } from "../loading/records";
import { CONFIG_FILE, type Workspace, workspaceRelative } from "../workspace/workspace";
import { type ReleaseConfig, validateRelease } from "../workspace/release-config";

export interface AnalyzeOptions {
  workspace: Workspace;
  base: OutputBase;
  patterns: readonly string[];
  cwd: string;
  /** path of dist/analyzer.mjs */
  analyzerScript: string;
  /** evaluate BUILD.ts files under bwrap (default true) */
  sandboxed: boolean;
  /** files BUILD.ts evaluation must not see besides the output base and hb-out (signing keys) */
  hide?: readonly string[];
  signal: AbortSignal;
  /** lines BUILD.ts files printed with console.log */
  onLog?: (line: string) => void;
  /** called when the analysis cache missed and BUILD.ts files are evaluated */
  onAnalyzing?: () => void;
}

export interface AnalyzeResult extends CachedAnalysis {
  /** true when the analysis came from the cache */
  cached: boolean;
  /** names this analysis result */
  fingerprint: string;
  /** every file, directory and listing it read: what a watch looks at */
  inputs: AnalysisInputs;
}

/** The action graph for `patterns`: from the analysis cache, or from a sandboxed analyzer run. */
export async function analyzeWorkspace(opts: AnalyzeOptions): Promise<AnalyzeResult> {
  const { workspace, base } = opts;
  const cwdPkg = workspaceRelative(workspace.root, opts.cwd);
  const request = analysisRequestKey(opts.patterns, cwdPkg);
  const hit = await loadCachedAnalysis(base.db, request, workspace.root);
  // assigned, not spread: a spread would parse the graph, which a no-op never reads
  if (hit) return Object.assign(hit, { cached: true });
  opts.onAnalyzing?.();
  // the evaluator's host (and the loader behind it) loads only when BUILD.ts files are evaluated
  const { runAnalyzer } = await import("../sandbox/run-evaluator");
  const response = await runAnalyzer(
    { workspaceRoot: workspace.root, patterns: [...opts.patterns], cwdPkg },
    {
      script: opts.analyzerScript,
      sandboxed: opts.sandboxed,
      hide: [workspace.outputBase, workspace.outDir, ...(opts.hide ?? [])],
      signal: opts.signal,
    },
  );
  for (const line of response.log) opts.onLog?.(line);
  if (!response.ok) throw HbError.fromData(response.error);
  checkGraph(response.graph);
  const result: CachedAnalysis = { config: response.config, graph: response.graph };
  const fingerprint = storeAnalysis(base.db, request, response.inputs, result);
  return { ...result, cached: false, fingerprint, inputs: response.inputs };
}

/** What a command that reads the workspace's settings works with, the output base locked. */
export interface WorkspaceSession {
  base: OutputBase;
  config: WorkspaceConfig;
  /** hb.config.ts's release setting, checked by the host (the evaluator's word is not taken for it) */
  release: ReleaseConfig | undefined;
  /** the first analysis, of `patterns` */
  first: AnalyzeResult;
  /** analyses more patterns under the same lock */
  analyze(patterns: readonly string[]): Promise<AnalyzeResult>;
}

/**
 * Runs `use` with the output base locked and open and hb.config.ts read (through the sandboxed
 * analyzer, or its cache), analysing `patterns` first (none: the settings alone): for the
 * commands that read the workspace's settings and the graph and build nothing.
 */
export async function withWorkspaceConfig<T>(
  workspace: Workspace,
  opts: {
    cwd: string;
    analyzerScript: string;
    signal: AbortSignal;
    patterns?: readonly string[];
    hide?: readonly string[];
    onLockWait?: (message: string) => void;
  },
  use: (session: WorkspaceSession) => Promise<T> | T,
): Promise<T> {
  const lock = await lockOutputBase(workspace.outputBase, (m) => opts.onLockWait?.(m), opts.signal);
  let base: OutputBase | undefined;
  try {
    const open = (base = new OutputBase(workspace.outputBase));
    const { cwd, analyzerScript, signal, hide } = opts;
    const analyze = (patterns: readonly string[]) =>
      analyzeWorkspace({ workspace, base: open, patterns, cwd, analyzerScript, sandboxed: true, signal, hide });
    const first = await analyze(opts.patterns ?? []);
    const { config } = first;
    const release = config.release === undefined ? undefined : validateRelease(config.release, CONFIG_FILE);
    return await use({ base: open, config, release, first, analyze });
  } finally {
    base?.close();
    lock.release();
  }
}
