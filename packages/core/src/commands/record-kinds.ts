import type { AttestVerifyRecord } from "./attest-verify";
import type { ExplainRecord } from "./explain";
import type { GateRecord } from "./gate/gate";
import type { BuildReport } from "./report";
import type { RunRecord } from "./run-record";
import type { VerifyReport } from "./verify/verify";

// A run record's shape follows its command: these narrow a record read back from
// records.jsonl (or a --report file) to the record that command writes.

export const isBuildRecord = (r: RunRecord): r is BuildReport => r.command === "build" || r.command === "test";
export const isVerifyRecord = (r: RunRecord): r is VerifyReport => r.command === "verify";
export const isExplainRecord = (r: RunRecord): r is ExplainRecord => r.command === "explain";
export const isGateRecord = (r: RunRecord): r is GateRecord => r.command === "gate";
export const isAttestVerifyRecord = (r: RunRecord): r is AttestVerifyRecord => r.command === "attest verify";
