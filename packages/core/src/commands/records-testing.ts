// Test support for the run record tests: the smallest valid record of each kind, at a moment,
// with any field overridden. Not exported.
import type { AttestVerifyRecord } from "./attest-verify";
import type { ExplainRecord } from "./explain";
import type { GateRecord } from "./gate/gate";
import type { BuildReport } from "./report";
import { type RecordHeader, type RecordedCommand, recordHeader } from "./run-record";
import type { VerifyReport } from "./verify/verify";

let n = 0;

function header(command: RecordedCommand, iso: string): RecordHeader {
  return { ...recordHeader(command, "/nonexistent", Date.parse(iso)), id: `record-${++n}`, durationMs: 10 };
}

export function buildRecord(iso: string, fields: Partial<BuildReport> = {}): BuildReport {
  return {
    ...header("build", iso),
    actions: 0,
    executed: 0,
    cached: { local: 0, remote: 0 },
    failed: 0,
    skipped: 0,
    sandbox: "default",
    targets: [],
    incidents: [],
    interrupted: false,
    errors: [],
    failures: [],
    warnings: [],
    actionList: [],
    ...fields,
  };
}

export function verifyRecord(iso: string, fields: Partial<VerifyReport> = {}): VerifyReport {
  return {
    ...header("verify", iso),
    runs: 2,
    targets: [],
    reproducible: 0,
    total: 0,
    passRate: 0,
    actions: { compared: 0, diverged: 0 },
    divergences: [],
    failures: [],
    conditions: [],
    outputBases: [],
    runDurationsMs: [],
    compareMs: 0,
    ...fields,
  };
}

export function gateRecord(iso: string, fields: Partial<GateRecord> = {}): GateRecord {
  return {
    ...header("gate", iso),
    version: 1,
    sourceCommit: "0".repeat(40),
    policyDigest: "0".repeat(64),
    result: "passed",
    artifacts: [],
    openBypasses: [],
    ...fields,
  };
}

export function attestVerifyRecord(iso: string, fields: Partial<AttestVerifyRecord> = {}): AttestVerifyRecord {
  return {
    ...header("attest verify", iso),
    artifact: "hb-out/app/pkg.txt",
    path: "hb-out/app/pkg.txt",
    sha256: "a".repeat(64),
    threshold: 2,
    ok: true,
    agreeing: 2,
    disagreeing: 0,
    ...fields,
  };
}

export function explainRecord(iso: string, fields: Partial<ExplainRecord> = {}): ExplainRecord {
  return { ...header("explain", iso), sha256: "a".repeat(64), producers: 1, provenance: 1, complete: true, ...fields };
}
