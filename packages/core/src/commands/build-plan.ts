import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { SandboxMode } from "../base/action-env";
import { HbError } from "../base/errors";
import type { ActionGraph, ExecPath, TargetInfo } from "../base/graph";
import type { OutputFile } from "../base/action-result";
import type { OutputBase } from "../caching/output-base";
import type { TeamCache } from "../caching/remote/team-cache";
import type { ActionOutcome, BuildEvents, ExecuteOptions } from "../execution/executor";
import type { StampInfo } from "../keying/key-material";
import { DEFAULT_SOURCE_DATE_EPOCH, type WorkspaceConfig } from "../workspace/config";
import type { Workspace } from "../workspace/workspace";
import type { LocalCas } from "../caching/local-cas";
import type { RemoteRuns } from "../execution/remote-run";
import { type RemoteExecutionSetup, type RemoteFlags, openRemote } from "./open-remote";
import type { TargetReport, TestResult } from "./report";
import { readStamp } from "./stamp";

// The steps every command that builds shares (hb build, hb test, hb run and their --watch): what a
// build runs with once its analysis is known, and what its outcomes report.

/** The part of a build request these steps read. */
export interface BuildRequest {
  cwd: string;
  patterns: readonly string[];
  jobs?: number;
  keepGoing?: boolean;
  /** overrides hb.config.ts's `sandbox` */
  sandbox?: SandboxMode;
  /** run actions tagged no-sandbox unsandboxed */
  allowUnsandboxed?: boolean;
  stamp?: boolean;
  /** re-run every action under strace (cache bypassed) and report what it reaches outside its declarations */
  audit?: boolean;
  /** no fetch step: fail if an external input is not fetched yet */
  offline?: boolean;
  /** the fetch step pins nothing into hb.lock.json: an npm tarball without a pin fails */
  locked?: boolean;
  /** the team cache; overrides hb.config.ts's remoteCache */
  remote?: RemoteFlags;
  /** hb test: build and run the test targets among the patterns' targets */
  tests?: boolean;
  signal: AbortSignal;
  /** with provenance: its signing key, which no BUILD.ts may name and no action may see */
  provenance?: { signingKey: string };
}

/** What a build of an analysed graph runs with. */
export interface BuildPlan {
  mode: SandboxMode;
  epoch: number;
  stamp?: StampInfo;
  /** every run action's platform properties: hb.config.ts's execProperties, --exec-property over them */
  execProperties?: Record<string, string>;
  remote?: TeamCache;
  /** with --remote-executor: where actions run */
  execution?: RemoteExecutionSetup;
  /** with --remote-executor: the runs of this build's actions there, over the local CAS */
  remoteRuns?: (cas: LocalCas) => RemoteRuns;
  /** with `tests`: the requested test targets, and the log each one's test action writes */
  tests: Map<string, ExecPath>;
}

/** Files hb reads itself and hides from BUILD.ts evaluation and every action: the signing keys named. */
export function hiddenKeys(request: BuildRequest): string[] {
  return [request.provenance?.signingKey, request.remote?.signingKey].filter((k): k is string => !!k).map((k) => resolve(request.cwd, k));
}

/** The log a test target's test action writes (its providers' test.log). */
function testLog(t: TargetInfo | undefined): string | undefined {
  const log = (t?.providers?.test as { log?: unknown } | undefined)?.log;
  return typeof log === "string" ? log : undefined;
}

/** `analysis.graph` is read only where the request needs it (--stamp, tests): a no-op build parses none. */
export async function planBuild(
  request: BuildRequest,
  workspace: Workspace,
  analysis: { readonly config: WorkspaceConfig; readonly graph: ActionGraph },
  events: BuildEvents | undefined,
): Promise<BuildPlan> {
  const { config } = analysis;
  const mode: SandboxMode = request.sandbox ?? config.sandbox ?? "default";
  const epoch = config.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const stamp = request.stamp && analysis.graph.actions.some((a) => a.stamp) ? await readStamp(workspace.root, epoch) : undefined;
  const { cache: remote, execution } = await openRemote(workspace.root, request.cwd, config.remoteCache, request.remote, (message) =>
    events?.warning?.({ code: "REMOTE_CACHE", message }),
  );
  // loaded only for remote execution: a local build does not pay for gRPC
  const Runs = execution && (await import("../execution/remote-run")).RemoteRuns;
  const remoteRuns =
    execution && Runs
      ? (cas: LocalCas) =>
          new Runs({ ...execution, cas, epoch, warn: (message) => events?.warning?.({ code: "REMOTE_EXECUTION", message }) })
      : undefined;
  const tests = new Map<string, ExecPath>();
  if (request.tests) {
    const { graph } = analysis;
    const byLabel = new Map(graph.targets.map((t) => [t.label, t]));
    for (const label of graph.requested) {
      const t = byLabel.get(label);
      const log = t?.test ? testLog(t) : undefined;
      if (log) tests.set(label, log);
    }
    if (tests.size === 0) {
      throw new HbError("NO_TESTS", `no test targets among ${request.patterns.join(" ")}`, {
        hint: "test targets come from node_test, ts_check or other test rules",
      });
    }
  }
  const execProperties = { ...config.execProperties, ...request.remote?.execProperties };
  return {
    mode,
    epoch,
    stamp,
    execProperties: Object.keys(execProperties).length > 0 ? execProperties : undefined,
    remote,
    execution,
    remoteRuns,
    tests,
  };
}

/** What execution is asked for: the requested targets (or the tests' logs) of `graph`. */
export function executeOptions(
  request: BuildRequest,
  workspace: Workspace,
  base: OutputBase,
  config: WorkspaceConfig,
  graph: ActionGraph,
  plan: BuildPlan,
  events: BuildEvents | undefined,
): ExecuteOptions {
  return {
    root: workspace.root,
    base,
    graph,
    targets: request.tests ? [...plan.tests.keys()] : graph.requested,
    extraOutputs: [...plan.tests.values()],
    mode: plan.mode,
    sourceDateEpoch: plan.epoch,
    stamp: plan.stamp,
    execProperties: plan.execProperties,
    jobs: Math.max(1, request.jobs ?? availableParallelism()),
    keepGoing: request.keepGoing ?? request.tests === true,
    signal: request.signal,
    events,
    useCache: !request.audit,
    audit: request.audit,
    network: !request.offline,
    lockedNpm: request.locked,
    npm: config.npm,
    remote: plan.remote,
    remoteRuns: plan.remoteRuns?.(base.cas),
    hidden: hiddenKeys(request),
    allowUnsandboxed: request.allowUnsandboxed,
  };
}

/** The requested targets' outputs: generated ones by the digests this build knows, sources through the stat cache. */
export function targetReports(
  graph: ActionGraph,
  outputs: ReadonlyMap<ExecPath, OutputFile>,
  base: OutputBase,
  root: string,
): TargetReport[] {
  const byLabel = new Map(graph.targets.map((t) => [t.label, t]));
  return graph.requested.map((label) => {
    const files: TargetReport["outputs"] = [];
    for (const path of byLabel.get(label)?.files ?? []) {
      const gen = outputs.get(path);
      if (gen) files.push({ path, sha256: gen.hash, size: gen.size });
      else if (!path.startsWith("hb-out/")) {
        try {
          const d = base.stats.digest(join(root, path)).digest;
          files.push({ path, sha256: d.hash, size: d.size });
        } catch {
          // a missing source was reported by the action that needed it
        }
      }
    }
    return { label, outputs: files };
  });
}

/** Each test's result, from the outcome of the action writing its log (none: it was not needed this time). */
export function testResults(plan: BuildPlan, outcomes: readonly ActionOutcome[]): TestResult[] {
  const byOutput = new Map(outcomes.flatMap((o) => o.action.outputs.map((p) => [p, o] as const)));
  return [...plan.tests].map(([label, log]) => {
    const o = byOutput.get(log);
    const status: TestResult["status"] =
      o?.status === "executed" ? "passed" : o?.status === "cached" ? "cached" : o?.status === "failed" ? "failed" : "not run";
    const r: TestResult = { label, status, durationMs: o?.result?.durationMs ?? o?.durationMs ?? 0 };
    if (o?.error) r.error = o.error.toData();
    if (o?.error?.facts && "timedOutAfter" in o.error.facts && o.error.facts.timedOutAfter !== undefined) r.timedOut = true;
    return r;
  });
}

/** Whether an action other than the tests' own failed. */
export function nonTestFailure(plan: BuildPlan, outcomes: readonly ActionOutcome[]): boolean {
  const logs = new Set(plan.tests.values());
  return outcomes.some((o) => o.status === "failed" && !o.action.outputs.some((p) => logs.has(p)));
}
