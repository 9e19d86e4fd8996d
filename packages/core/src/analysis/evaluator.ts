import { HbError, type HbErrorData } from "../base/errors";
import type { ActionGraph } from "../base/graph";
import type { EvaluationFacts, LoadingAccess, LoadingHost } from "../loading/loading-host";
import { loadWorkspace } from "../loading/loader";
import type { AnalysisInputs, AnalysisRequest } from "../loading/records";
import type { WorkspaceConfig } from "../workspace/config";
import { Analysis } from "./analyzer";

// The BUILD.ts evaluator's pass (in its sandboxed process): loading, then analysis, as one.

export { connectToHost } from "../loading/host-protocol";
export { registerApiModule } from "../loading/loader";

/** What evaluating the BUILD.ts files gives: the graph and what it relied on, or the first error. */
export type EvaluationResult =
  | ({ ok: true; config: WorkspaceConfig; graph: ActionGraph; log: string[] } & EvaluationFacts)
  | { ok: false; error: HbErrorData; log: string[] };

/** An evaluation's result as the host keeps it: with everything the analysis depends on. */
export type AnalysisResponse =
  | { ok: true; config: WorkspaceConfig; graph: ActionGraph; inputs: AnalysisInputs; log: string[] }
  | { ok: false; error: HbErrorData; log: string[] };

/**
 * Loads the packages the patterns reach (through `access`, the host), then analyzes the requested
 * targets into the action graph. Errors are data: a BUILD.ts's own error names its file and line.
 */
export async function loadAndAnalyze(req: AnalysisRequest, access: LoadingAccess): Promise<EvaluationResult> {
  const log: string[] = [];
  try {
    const loaded = await loadWorkspace(req, access, log);
    // the analysis adds the paths it found absent (a BUILD.ts appearing there moves a package boundary)
    const absent = new Set(loaded.absent);
    const graph = new Analysis(req.workspaceRoot, loaded.packages, loaded.locate, absent, loaded.fs).run(loaded.requested);
    return { ok: true, config: loaded.config, graph, globs: loaded.globs, absent: [...absent].sort(), log };
  } catch (e) {
    if (e instanceof HbError) return { ok: false, error: e.toData(), log };
    const err = e as Error;
    return { ok: false, error: { code: "INTERNAL", message: `${err?.stack ?? err}` }, log };
  }
}

/** The host's record of an evaluation: its result, with what it depends on (what was served and what it relied on). */
export function analysisResponse(host: LoadingHost, result: EvaluationResult): AnalysisResponse {
  if (!result.ok) return result;
  const { globs, absent, ...rest } = result;
  return { ...rest, inputs: host.inputs({ globs, absent }) };
}
