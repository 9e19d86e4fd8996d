import { resolve } from "node:path";
import { HbError } from "../base/errors";
import { loadPublicKey } from "../base/keys";
import { ATTESTATION_SUFFIX } from "../provenance/attestation";
import { findAttestationFiles } from "../provenance/attestation-files";
import { type Corroboration, corroborate } from "../provenance/corroborate";
import { artifactSha256OfFile } from "../provenance/verify";
import { type Workspace, openWorkspace, workspacePath } from "../workspace/workspace";
import { withWorkspaceConfig } from "./analyze";
import { type RecordHeader, type RunRecord, appendRunRecord, recordHeader, recordLimits } from "./run-record";

export interface AttestVerifyOptions {
  cwd: string;
  artifact: string;
  /** public key files trusted */
  keys: readonly string[];
  /** attestation files or directories, besides those beside the artifact */
  attestations: readonly string[];
  threshold: number;
  builderId?: string;
  sourceCommit?: string;
  /** where the run is recorded (default <workspace>/.hb) */
  outputBase?: string;
  analyzerScript: string;
  signal: AbortSignal;
}

/** What `hb attest verify` records: the artifact, how many independent builders agreed, and the verdict. */
export interface AttestVerifyRecord extends RecordHeader {
  /** as given */
  artifact: string;
  /** its workspace path (absolute outside the workspace): what reports key it by */
  path: string;
  sha256: string;
  threshold: number;
  ok: boolean;
  agreeing: number;
  disagreeing: number;
}

/**
 * `hb attest verify`: the artifact's attestations, each checked, and whether `threshold`
 * independent trusted builders corroborate its digest. Inside a workspace, the run is recorded.
 */
export async function attestVerify(opts: AttestVerifyOptions): Promise<{ result: Corroboration; sha256: string }> {
  const started = Date.now();
  const path = resolve(opts.cwd, opts.artifact);
  const given = opts.attestations.map((a) => resolve(opts.cwd, a));
  const sha256 = artifactSha256OfFile(path);
  const files = findAttestationFiles(path, given);
  if (files.length === 0) {
    const what =
      given.length > 0 ? `no attestation in ${given.join(", ")}` : `cannot read attestation ${opts.artifact}${ATTESTATION_SUFFIX}: ENOENT`;
    throw new HbError("UNREADABLE_FILE", what, {
      hint: `name it with --attestation FILE|DIR (by default it is the artifact's path plus ${ATTESTATION_SUFFIX})`,
    });
  }
  const result = corroborate({
    artifactSha256: sha256,
    artifactPath: path,
    files,
    keys: opts.keys.map((k) => loadPublicKey(resolve(opts.cwd, k))),
    threshold: opts.threshold,
    expectedBuilderId: opts.builderId,
    expectedSourceCommit: opts.sourceCommit,
  });
  let workspace: Workspace | undefined;
  try {
    workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  } catch (e) {
    // verifying an artifact outside any workspace: nothing to record it in
    if (!(e instanceof HbError && e.code === "NO_WORKSPACE")) throw e;
  }
  if (workspace) {
    const record: AttestVerifyRecord = {
      ...recordHeader("attest verify", workspace.root, started),
      artifact: opts.artifact,
      path: workspacePath(workspace.root, path),
      sha256,
      threshold: opts.threshold,
      ok: result.ok,
      agreeing: result.agreeing.length,
      disagreeing: result.disagreements.length,
    };
    await appendWithConfigLimits(workspace, record, opts);
  }
  return { result, sha256 };
}

/** Appends `record` under the workspace's own rotation limits, which its hb.config.ts sets. */
async function appendWithConfigLimits(workspace: Workspace, record: RunRecord, opts: AttestVerifyOptions): Promise<void> {
  await withWorkspaceConfig(workspace, opts, ({ config }) => appendRunRecord(workspace.outputBase, record, recordLimits(config)));
}
