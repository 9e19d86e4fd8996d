import type { HbError, Warning } from "../base/errors";
import type { ActionSpec, ExecPath } from "../base/graph";
import type { ActionResult, OutputFile } from "../caching/action-cache";
import type { CacheIncident } from "../caching/local-cas";
import type { ActionKeyMaterial } from "../keying/action-key";
import type { ActionAudit } from "../sandbox/audit/classify";
import type { OutputFacts } from "./materialize";

// What execution hands on: one outcome per action, and the events a progress display follows.

export type ActionStatus = "executed" | "cached" | "failed" | "skipped" | "interrupted";

export interface ActionOutcome {
  action: ActionSpec;
  status: ActionStatus;
  /** a cache hit from the remote cache: the instance it came from and the key that signed it */
  remote?: { instance: string; keyId: string };
  /** with `audit`: what the action reached outside its declarations */
  audit?: ActionAudit;
  key?: string;
  /** what the key was computed from: inputs, tools and env (verify and provenance read it) */
  material?: ActionKeyMaterial;
  result?: ActionResult;
  error?: HbError;
  durationMs: number;
}

export interface BuildEvents {
  /** how many actions the targets need (before any cache check) */
  planned?(actions: number): void;
  actionStarted?(action: ActionSpec): void;
  /** the fetch step downloads `url` */
  fetching?(url: string): void;
  actionFinished?(outcome: ActionOutcome): void;
  /** an executed action whose outputs could not be put under hb-out/: its outcome is now failed */
  outputsFailed?(outcome: ActionOutcome): void;
  warning?(w: Warning): void;
}

export interface ExecutionResult {
  /** one per action the targets need, in completion order */
  outcomes: ActionOutcome[];
  /** every generated file the build knows the digest of */
  outputs: Map<ExecPath, OutputFile>;
  interrupted: boolean;
  incidents: CacheIncident[];
  /** what was materialized for every output of the needed actions */
  materialized?: OutputFacts[];
}
