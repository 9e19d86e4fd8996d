// @hb/core: the BUILD.ts API (what BUILD files import) and the engine (what the CLI drives).

export * from "./build-api/index";

export { ExitCode, HbError, formatError, formatLocation, didYouMean, isHbError } from "./errors";
export type { HbErrorCode, HbErrorData, SourceLocation } from "./errors";
export { parseLabel, formatLabel, displayLabel, canonicalLabel, parseTargetPattern, formatTargetPattern, isPackageUnder } from "./label/label";
export type { Label, TargetPattern } from "./label/label";
export { type Digest, SHA256_HEX, digestOfBytes, digestOfFile, sha256Hex, formatDigest, parseDigest } from "./hash/digest";
export { type WorkspaceConfig, type SandboxMode, DEFAULT_SOURCE_DATE_EPOCH, SANDBOX_MODES, validateConfig } from "./workspace/config";
export { type Workspace, openWorkspace, findWorkspaceRoot, workspaceRelative, BUILD_FILE, CONFIG_FILE } from "./workspace/workspace";
export type { ActionGraph, ActionSpec, TargetInfo, ExecPath, AnalysisRequest, AnalysisResponse } from "./analysis/graph";
export { OUT_DIR } from "./analysis/graph";
export { analyzeWorkspace, type AnalyzeOptions, type AnalyzeResult } from "./build/analyze";
export { build, type BuildOptions, type BuildReport, type BuildResult, type TargetReport, type TestResult } from "./build/build";
export { type ActionOutcome, type ActionStatus, type BuildEvents, type StampInfo, describeCommand, executeActions } from "./execution/executor";
export { type ActionResult, type OutputFile } from "./action-cache/action-cache";
export { actionKey, encodeActionKeyMaterial, ACTION_SEMANTICS_VERSION, type ActionKeyMaterial, type KeyedFile } from "./action/action-key";
export { type CacheIncident, LocalCas } from "./cas/local-cas";
export { OutputBase, isOutputBaseEntry } from "./store/output-base";
export { type Database, type Statement as SqlStatement, sqlite } from "./store/database";
export { lockOutputBase } from "./store/lock";
export { makeWritableDir } from "./store/writable-dir";
export { parseQuery, evaluateQuery, queryPatterns, type QueryExpr, type QueryNode } from "./query/query";
export { verify, type VerifyOptions, type VerifyReport, type TargetVerdict, type Divergence, type FileDifference } from "./verify/verify";
export { type SigningKeyPair, type KeyFiles, generateKeyPair, writeKeyPair, loadPrivateKey, loadPublicKey, keyId, signBytes, verifyBytes, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from "./crypto/keys";
export { type Envelope, type EnvelopeSignature, type DecodedEnvelope, type DsseFailure, type DsseVerified, pae, signEnvelope, serializeEnvelope, decodeEnvelope, verifyEnvelope } from "./provenance/dsse";
export { type ProvenanceStatement, type ProvenanceInput, type SlsaProvenance, type Statement, type ResourceDescriptor, type DigestSet, type FileDigest, type LockfilePin, buildProvenanceStatement, serializeStatement, STATEMENT_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE, HB_BUILD_TYPE } from "./provenance/statement";
export { IN_TOTO_PAYLOAD_TYPE, ATTESTATION_SUFFIX, signStatement, attestationBundle } from "./provenance/attestation";
export { type AttestationCheck, type AttestationVerification, type CheckResult, type VerifyAttestationOptions, ATTESTATION_CHECKS, verifyAttestation } from "./provenance/verify";
export { findBwrap, bwrapArgs, systemBinds, writeSandboxEtc, type BwrapSpec } from "./sandbox/bwrap";
export { EXECROOT, SANDBOX_HOME, SYSTEM_PATH, determinismEnv } from "./sandbox/determinism";
export { spawnProcess, type SpawnResult } from "./sandbox/spawn";
export { fetchExternal, type FetchOptions as FetchCommandOptions } from "./build/fetch";
export { explain, type Explanation, type ExplainedInput, type ExplainedProducer } from "./explain/explain";
export { type ActionInfo } from "./action-cache/action-cache";
