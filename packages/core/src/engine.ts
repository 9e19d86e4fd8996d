// @hb/core/engine: hb's engine, for the CLI, tests and tools. BUILD.ts files and hb.config.ts
// see `@hb/core` only (index.ts): the rules, glob, defineConfig and their types.

export { ExitCode, HbError, didYouMean } from "./base/errors";
export type { HbErrorData, SourceLocation, Warning } from "./base/errors";
export { type Digest, SHA256_HEX, sha256Hex } from "./base/digest";
export { DEFAULT_SOURCE_DATE_EPOCH } from "./workspace/config";
export { asDiskFull } from "./base/disk-full";
export { type SandboxMode, SANDBOX_MODES } from "./base/action-env";
export type { ActionGraph, ActionSpec } from "./base/graph";
export { OUT_DIR } from "./base/graph";
export { build, type BuildOptions } from "./commands/build";
export type { Rebuild, WatchEvents } from "./commands/watch/watch";
export { MAX_WATCHES_SYSCTL, type WatchMode } from "./commands/watch/file-watcher";
export type { BuildReport, TestResult } from "./commands/report";
export type { ActionOutcome, BuildEvents } from "./execution/executor";
export type { ActionResult, OutputFile } from "./base/action-result";
export { actionKey } from "./keying/action-key";
export { OutputBase } from "./caching/output-base";
export { type Database, type Statement as SqlStatement, sqlite } from "./base/database";
export { makeWritableDir } from "./base/writable-dir";
export { parseDuration } from "./commands/clean";
export { bytesOf, formatSize } from "./base/size";
export type { InitFile, InitResult } from "./commands/init/init";
export type { VerifyReport } from "./commands/verify/verify";
export { type SigningKeyPair, generateKeyPair, writeKeyPair, loadPrivateKey, loadPublicKey, keyId } from "./base/keys";
export { type Statement, buildProvenanceStatement } from "./provenance/statement";
export { ATTESTATION_SUFFIX, attestationBundle } from "./provenance/attestation";
export { type AttestationCheck, ATTESTATION_CHECKS } from "./provenance/verify";
export { findBwrap, bwrapArgs, writeSandboxEtc } from "./sandbox/bwrap";
export { EXECROOT, SANDBOX_HOME, SYSTEM_PATH, determinismEnv } from "./base/action-env";
export { spawnProcess } from "./base/process";
export { HB_LOCK_FILE } from "./fetch/hb-lock";
export type { Explanation } from "./commands/explain";
export { type Corroboration, type EnvelopeResult, describeDisagreement } from "./provenance/corroborate";
export { shortId, signEnvelope, verifyEnvelope } from "./base/dsse";
export type { GateResult } from "./commands/gate/gate";
export { BYPASS_LOG } from "./commands/gate/bypass-log";
export { GATE_CHECKS } from "./provenance/release-checks";
export { type VsaStatement } from "./provenance/vsa";
export { appendRunRecord, recordHeader } from "./commands/run-record";
export type { TrustReport } from "./commands/trust-report/trust-report";
export type { DoctorReport } from "./commands/doctor/doctor";
export { AC_ENTRY_PAYLOAD_TYPE } from "./caching/remote/ac-entry";

// Commands a build does not run load when called: a command's module and what it alone imports
// stay out of the code every `hb build` compiles at start (a no-op build is mostly start-up).
type Commands = {
  watch: typeof import("./commands/watch/watch").watch;
  query: typeof import("./commands/query/query").query;
  clean: typeof import("./commands/clean").clean;
  initWorkspace: typeof import("./commands/init/init").initWorkspace;
  verify: typeof import("./commands/verify/verify").verify;
  fetchExternal: typeof import("./commands/fetch").fetchExternal;
  explain: typeof import("./commands/explain").explain;
  gate: typeof import("./commands/gate/gate").gate;
  attestVerify: typeof import("./commands/attest-verify").attestVerify;
  trustReport: typeof import("./commands/trust-report/trust-report").trustReport;
  doctor: typeof import("./commands/doctor/doctor").doctor;
  executeActions: typeof import("./execution/executor").executeActions;
};
export const watch: Commands["watch"] = async (o) => (await import("./commands/watch/watch")).watch(o);
export const query: Commands["query"] = async (o) => (await import("./commands/query/query")).query(o);
export const clean: Commands["clean"] = async (o) => (await import("./commands/clean")).clean(o);
export const initWorkspace: Commands["initWorkspace"] = async (o) => (await import("./commands/init/init")).initWorkspace(o);
export const verify: Commands["verify"] = async (o) => (await import("./commands/verify/verify")).verify(o);
export const fetchExternal: Commands["fetchExternal"] = async (o) => (await import("./commands/fetch")).fetchExternal(o);
export const explain: Commands["explain"] = async (o) => (await import("./commands/explain")).explain(o);
export const gate: Commands["gate"] = async (o) => (await import("./commands/gate/gate")).gate(o);
export const attestVerify: Commands["attestVerify"] = async (o) => (await import("./commands/attest-verify")).attestVerify(o);
export const trustReport: Commands["trustReport"] = async (o) => (await import("./commands/trust-report/trust-report")).trustReport(o);
export const doctor: Commands["doctor"] = async (o) => (await import("./commands/doctor/doctor")).doctor(o);
export const executeActions: Commands["executeActions"] = async (o) => (await import("./execution/executor")).executeActions(o);
/** Closes a gate bypass (see commands/gate/gate.ts), its module loaded as the gate's is. */
export async function closeGateBypass(
  opts: Parameters<typeof import("./commands/gate/gate").closeGateBypass>[0],
): Promise<ReturnType<typeof import("./commands/gate/gate").closeGateBypass>> {
  return (await import("./commands/gate/gate")).closeGateBypass(opts);
}
