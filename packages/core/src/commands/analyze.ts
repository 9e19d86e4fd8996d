import { HbError } from "../base/errors";
import { checkGraph } from "../analysis/graph-check";
import { analysisRequestKey, loadCachedAnalysis, storeAnalysis, type CachedAnalysis } from "../analysis/analysis-cache";
import { runAnalyzer } from "../sandbox/run-evaluator";
import { OutputBase } from "../caching/output-base";
import type { WorkspaceConfig } from "../workspace/config";
import { lockOutputBase } from "../workspace/lock";
import type { AnalysisInputs } from "../loading/records";
import { type Workspace, workspaceRelative } from "../workspace/workspace";

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
  if (hit) return { ...hit, cached: true };
  opts.onAnalyzing?.();
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

/**
 * Runs `use` with the output base locked and open and hb.config.ts read (through the sandboxed
 * analyzer, or its cache): for the commands that need the workspace's settings and no graph.
 */
export async function withWorkspaceConfig<T>(
  workspace: Workspace,
  opts: { cwd: string; analyzerScript: string; signal: AbortSignal },
  use: (base: OutputBase, config: WorkspaceConfig) => Promise<T> | T,
): Promise<T> {
  const lock = await lockOutputBase(workspace.outputBase, () => undefined, opts.signal);
  let base: OutputBase | undefined;
  try {
    base = new OutputBase(workspace.outputBase);
    const { cwd, analyzerScript, signal } = opts;
    const { config } = await analyzeWorkspace({ workspace, base, patterns: [], cwd, analyzerScript, sandboxed: true, signal });
    return await use(base, config);
  } finally {
    base?.close();
    lock.release();
  }
}
