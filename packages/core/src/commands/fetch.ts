import { actionsNeededBy } from "../execution/action-closure";
import { type FetchSummary, runFetchStep } from "../fetch/fetch-step";
import { fetchRequests, npmPolicy } from "../fetch/requests";
import { lockOutputBase } from "../workspace/lock";
import { OutputBase } from "../caching/output-base";
import { DEFAULT_SOURCE_DATE_EPOCH } from "../workspace/config";
import { openWorkspace } from "../workspace/workspace";
import { analyzeWorkspace } from "./analyze";

export interface FetchOptions {
  cwd: string;
  patterns: readonly string[];
  outputBase?: string;
  analyzerScript: string;
  /** pin nothing on first fetch: fail on an npm tarball hb.lock.json does not pin */
  locked?: boolean;
  signal: AbortSignal;
  onFetch?: (url: string) => void;
  onLockWait?: (message: string) => void;
}

/** `hb fetch`: the fetch step alone, for what the patterns' targets need; builds can then run offline. */
export async function fetchExternal(opts: FetchOptions): Promise<FetchSummary & { requests: number; log: string }> {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const lock = await lockOutputBase(workspace.outputBase, (m) => opts.onLockWait?.(m), opts.signal);
  const base = new OutputBase(workspace.outputBase);
  try {
    const { config, graph } = await analyzeWorkspace({
      workspace,
      base,
      patterns: opts.patterns,
      cwd: opts.cwd,
      analyzerScript: opts.analyzerScript,
      sandboxed: true,
      signal: opts.signal,
    });
    const actions = actionsNeededBy(graph, graph.requested).map((id) => graph.actions[id]!);
    const requests = fetchRequests(actions, workspace.root, npmPolicy(config.npm, workspace.root));
    const summary = await runFetchStep(requests, base, workspace.root, {
      network: true,
      locked: opts.locked,
      signal: opts.signal,
      epoch: config.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH,
      onFetch: opts.onFetch,
    });
    return { ...summary, requests: requests.length, log: `${base.dir}/fetch-log.jsonl` };
  } finally {
    base.close();
    lock.release();
  }
}
