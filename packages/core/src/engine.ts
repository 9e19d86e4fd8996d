// @hb/core/engine: hb's engine, for the CLI, tests and tools. BUILD.ts files and hb.config.ts
// see `@hb/core` only (index.ts): the rules, glob, defineConfig and their types.

export { ExitCode, HbError, didYouMean, isHbError } from "./base/errors";
export type { Failure, FailureCode, FailureFacts, HbErrorCode, HbErrorData, SourceLocation, Warning, WarningFacts } from "./base/errors";
export {
  parseLabel,
  formatLabel,
  displayLabel,
  canonicalLabel,
  parseTargetPattern,
  formatTargetPattern,
  isPackageUnder,
} from "./base/label";
export type { Label, TargetPattern } from "./base/label";
export { type Digest, SHA256_HEX, digestOfBytes, digestOfFile, sha256Hex, formatDigest, parseDigest } from "./base/digest";
export { type WorkspaceConfig, DEFAULT_SOURCE_DATE_EPOCH, validateConfig } from "./workspace/config";
export { type SandboxMode, SANDBOX_MODES } from "./base/action-env";
export { type Workspace, openWorkspace, findWorkspaceRoot, workspaceRelative, BUILD_FILE, CONFIG_FILE } from "./workspace/workspace";
export type { ActionGraph, ActionSpec, TargetInfo, ExecPath } from "./base/graph";
export { OUT_DIR } from "./base/graph";
export { analyzeWorkspace, type AnalyzeOptions, type AnalyzeResult } from "./commands/analyze";
export { build, type BuildOptions, type BuildResult } from "./commands/build";
export type { BuildReport, TargetReport, TestResult } from "./commands/report";
export { type ActionOutcome, type ActionStatus, type BuildEvents, executeActions } from "./execution/executor";
export { describeCommand } from "./api/shell";
export { type ActionResult, type OutputFile } from "./caching/action-cache";
export { actionKey, encodeActionKeyMaterial, ACTION_SEMANTICS_VERSION, type ActionKeyMaterial, type KeyedFile } from "./keying/action-key";
export { type CacheIncident, LocalCas } from "./caching/local-cas";
export { OutputBase, isOutputBaseEntry } from "./caching/output-base";
export { type Database, type Statement as SqlStatement, sqlite } from "./base/database";
export { lockOutputBase } from "./workspace/lock";
export { makeWritableDir } from "./base/writable-dir";
export { type QueryNode } from "./commands/query/language";
export { query, type QueryOptions } from "./commands/query/query";
export { clean, type CleanOptions, type CleanResult } from "./commands/clean";
export {
  verify,
  type VerifyOptions,
  type VerifyReport,
  type TargetVerdict,
  type Divergence,
  type FileDifference,
} from "./commands/verify/verify";
export {
  type SigningKeyPair,
  type KeyFiles,
  generateKeyPair,
  writeKeyPair,
  loadPrivateKey,
  loadPublicKey,
  keyId,
  signBytes,
  verifyBytes,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
} from "./base/keys";
export {
  type Envelope,
  type EnvelopeSignature,
  type DecodedEnvelope,
  type DsseFailure,
  type DsseVerified,
  pae,
  signEnvelope,
  serializeEnvelope,
  decodeEnvelope,
  verifyEnvelope,
} from "./base/dsse";
export {
  type ProvenanceStatement,
  type ProvenanceInput,
  type SlsaProvenance,
  type Statement,
  type ResourceDescriptor,
  type DigestSet,
  type FileDigest,
  type LockfilePin,
  buildProvenanceStatement,
  serializeStatement,
  STATEMENT_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  HB_BUILD_TYPE,
} from "./provenance/statement";
export { IN_TOTO_PAYLOAD_TYPE, ATTESTATION_SUFFIX, signStatement, attestationBundle } from "./provenance/attestation";
export {
  type AttestationCheck,
  type AttestationVerification,
  type CheckResult,
  type VerifyAttestationOptions,
  ATTESTATION_CHECKS,
  verifyAttestation,
} from "./provenance/verify";
export { findBwrap, bwrapArgs, systemBinds, writeSandboxEtc, type BwrapSpec } from "./sandbox/bwrap";
export { EXECROOT, SANDBOX_HOME, SYSTEM_PATH, determinismEnv } from "./base/action-env";
export { spawnProcess, type SpawnResult } from "./base/process";
export { fetchExternal, type FetchOptions as FetchCommandOptions } from "./commands/fetch";
export { explain, type Explanation, type ExplainedInput, type ExplainedProducer } from "./commands/explain";
export { type ActionInfo } from "./caching/action-cache";
