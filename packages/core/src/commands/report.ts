import type { Failure, HbErrorData, Warning } from "../base/errors";
import type { CacheIncident } from "../caching/local-cas";
import type { RemoteStats } from "../caching/remote/team-cache";
import type { SandboxMode } from "../base/action-env";
import type { ActionEntry, RecordHeader } from "./run-record";

// What a command reports: the summary line's facts as data, written whole by `--report FILE`.

export interface TargetReport {
  label: string;
  outputs: { path: string; sha256: string; size: number }[];
}

/**
 * What `hb build` (or `hb test`) records, and `--report FILE` writes: the run record's header, the
 * summary line's facts, and each action's end.
 */
export interface BuildReport extends RecordHeader {
  actions: number;
  executed: number;
  cached: { local: number; remote: number };
  failed: number;
  skipped: number;
  durationMs: number;
  sandbox: SandboxMode;
  targets: TargetReport[];
  incidents: CacheIncident[];
  interrupted: boolean;
  errors: HbErrorData[];
  /** the failures, as data: `{ code, label?, ...facts, message, hint? }` (an action failed: its exit code, signal, output) */
  failures: Failure[];
  /** what the build said besides, as data: `{ code, ...facts }` */
  warnings: Warning[];
  /** with --audit: per action, what it read or connected to outside its declarations */
  audit?: { label: string; reads: string[]; connects: string[] }[];
  /** with --audit: how many reads and connects the audit found */
  hermeticViolations?: number;
  /** with --provenance: the attestation files written */
  attestations?: string[];
  /**
   * with --provenance: the id of the key that signed them, so that whether they verify against
   * release.policy (a key trusted for `builderId`) can be judged later, by the policy of then
   */
  signingKeyId?: string;
  /** true when nothing the last clean build read or wrote had changed: no key was computed */
  upToDate?: boolean;
  /** with a remote cache: hits, misses, bytes, rejected entries by reason */
  remote?: RemoteStats & { url: string };
  /** every action the targets needed, as it ended (none for a no-op build: nothing was looked at) */
  actionList: ActionEntry[];
  /** hb test: one per test target */
  tests?: TestResult[];
}

export interface TestResult {
  label: string;
  /** passed: ran and passed; cached: passed before, with the same inputs; failed; not run: something it needs failed */
  status: "passed" | "cached" | "failed" | "not run";
  /** failed by running past its time limit: killed, with its process group */
  timedOut?: boolean;
  durationMs: number;
  /** the test action's error: command and output */
  error?: HbErrorData;
}
