import type { SandboxMode } from "../base/action-env";
import type { ActionResult } from "../base/action-result";
import type { ActionGraph, ActionSpec, ExecPath } from "../base/graph";
import type { OutputBase } from "../caching/output-base";
import type { TeamCache } from "../caching/remote/team-cache";
import type { RemoteRuns } from "./remote-run";
import type { StampInfo } from "../keying/key-material";
import type { NpmConfig } from "../workspace/config";
import type { BuildEvents } from "./outcome";

/** What a build asks execution for. */
export interface ExecuteOptions {
  root: string;
  base: OutputBase;
  graph: ActionGraph;
  /** labels whose default outputs (and runfiles) are wanted */
  targets: readonly string[];
  /** more outputs wanted beyond the targets' defaults (hb test: the test logs) */
  extraOutputs?: readonly ExecPath[];
  mode: SandboxMode;
  sourceDateEpoch: number;
  stamp?: StampInfo;
  /** hb.config.ts's `execProperties` (with --exec-property over them): every run action's platform properties */
  execProperties?: Readonly<Record<string, string>>;
  jobs: number;
  keepGoing: boolean;
  signal: AbortSignal;
  events?: BuildEvents;
  /** look up the action cache (default true); `hb verify` turns it off */
  useCache?: boolean;
  /** materialize outputs under hb-out/ (default true) */
  materialize?: boolean;
  /** stage inputs in reverse order, so a directory lists its entries in another order (`hb verify`) */
  reverseStaging?: boolean;
  /** run every action under strace and report what it reaches outside its declarations (implies no cache) */
  audit?: boolean;
  /** the fetch step may download what is not fetched yet (default true); false: offline */
  network?: boolean;
  /** the fetch step pins nothing on first fetch: a tarball without a pin fails the build */
  lockedNpm?: boolean;
  /** how npm_install actions resolve lockfiles */
  npm?: NpmConfig;
  /** the team cache: read on a local miss, written after a sandboxed execution when it allows */
  remote?: TeamCache;
  /** a REAPI executor: runs the actions it accepts */
  remoteRuns?: RemoteRuns;
  /** files no action may see besides hb's state (signing keys), absolute */
  hidden?: readonly string[];
  /** run actions tagged no-sandbox unsandboxed (a command-line decision: BUILD.ts files come with every change) */
  allowUnsandboxed?: boolean;
  /**
   * Actions this process finished before with inputs that have not changed since (hb watch), by
   * id, with their results: their outputs are taken as they are, and they are neither keyed nor run.
   */
  settled?: ReadonlyMap<number, ActionResult>;
  /** what stops one action on its own (hb watch: its inputs changed while it waited or ran); `signal` stops them all */
  actionSignal?(action: ActionSpec): AbortSignal | undefined;
}
