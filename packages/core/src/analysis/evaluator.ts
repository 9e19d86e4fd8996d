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
    const graph = new Analysis(req.workspaceRoot, loaded.packages, loaded.locate, absent, loaded.fs, loaded.packageGuesses).run(
      loaded.requested,
    );
    return { ok: true, config: loaded.config, graph, globs: loaded.globs, absent: [...absent].sort(), log };
  } catch (e) {
    if (e instanceof HbError) return { ok: false, error: e.toData(), log };
    const err = e as Error;
    return { ok: false, error: { code: "INTERNAL", message: `${err?.stack ?? err}` }, log };
  }
}

/**
 * The host's record of an evaluation: its result, with what it depends on (what was served and
 * what it relied on). The result comes from the sandboxed evaluator: its shape is checked here,
 * what it asks to run is checked where it runs.
 */
export function analysisResponse(host: LoadingHost, result: EvaluationResult): AnalysisResponse {
  if (!isEvaluationResult(result)) {
    throw new HbError("BUILD_FILE_ERROR", "the BUILD.ts evaluator's result is not of the form hb reads", {
      hint: "a BUILD.ts escaping its sandbox's API (process.stdout) would do this; BUILD.ts files talk to hb only through the hb API",
    });
  }
  if (!result.ok) return result;
  const { globs, absent, ...rest } = result;
  return { ...rest, inputs: host.inputs({ globs, absent }) };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === "string");

function isEvaluationResult(r: unknown): r is EvaluationResult {
  if (!isObject(r) || !isStrings(r.log)) return false;
  if (r.ok === false) return isObject(r.error) && typeof r.error.code === "string" && typeof r.error.message === "string";
  if (r.ok !== true || !isObject(r.config) || !isObject(r.graph) || !isStrings(r.absent) || !Array.isArray(r.globs)) return false;
  const g = r.graph;
  return (
    Array.isArray(g.targets) &&
    Array.isArray(g.actions) &&
    isStrings(g.requested) &&
    r.globs.every(
      (x) =>
        isObject(x) &&
        x.kind === "glob" &&
        typeof x.base === "string" &&
        isStrings(x.include) &&
        isStrings(x.exclude) &&
        isStrings(x.result),
    )
  );
}
