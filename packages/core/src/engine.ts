// @hb/core/engine: hb's engine, for the CLI, tests and tools. BUILD.ts files and hb.config.ts
// see `@hb/core` only (index.ts): the rules, glob, defineConfig and their types.

export { ExitCode, HbError, didYouMean } from "./base/errors";
export type { HbErrorData, SourceLocation, Warning } from "./base/errors";
export { type Digest, SHA256_HEX, sha256Hex } from "./base/digest";
export { DEFAULT_SOURCE_DATE_EPOCH } from "./workspace/config";
export { type SandboxMode, SANDBOX_MODES } from "./base/action-env";
export type { ActionGraph, ActionSpec } from "./base/graph";
export { OUT_DIR } from "./base/graph";
export { build, type BuildOptions } from "./commands/build";
export type { BuildReport, TestResult } from "./commands/report";
export { type ActionOutcome, type BuildEvents, executeActions } from "./execution/executor";
export type { ActionResult, OutputFile } from "./base/action-result";
export { actionKey } from "./keying/action-key";
export { OutputBase } from "./caching/output-base";
export { type Database, type Statement as SqlStatement, sqlite } from "./base/database";
export { makeWritableDir } from "./base/writable-dir";
export { query } from "./commands/query/query";
export { clean } from "./commands/clean";
export { verify, type VerifyReport } from "./commands/verify/verify";
export { generateKeyPair, writeKeyPair, loadPrivateKey, loadPublicKey, keyId } from "./base/keys";
export { type Statement, buildProvenanceStatement } from "./provenance/statement";
export { ATTESTATION_SUFFIX, attestationBundle } from "./provenance/attestation";
export { type AttestationCheck, ATTESTATION_CHECKS } from "./provenance/verify";
export { findBwrap, bwrapArgs, writeSandboxEtc } from "./sandbox/bwrap";
export { EXECROOT, SANDBOX_HOME, SYSTEM_PATH, determinismEnv } from "./base/action-env";
export { spawnProcess } from "./base/process";
export { fetchExternal } from "./commands/fetch";
export { explain, type Explanation } from "./commands/explain";
export { findAttestationFiles } from "./provenance/attestation-files";
export { type Corroboration, type EnvelopeResult, corroborate, describeDisagreement } from "./provenance/corroborate";
export { shortId } from "./base/dsse";
export { artifactSha256OfFile } from "./provenance/verify";
export { type GateResult, closeGateBypass, gate } from "./commands/gate/gate";
export { BYPASS_LOG } from "./commands/gate/bypass-log";
export { GATE_CHECKS } from "./provenance/release-checks";
export { type VsaStatement } from "./provenance/vsa";
