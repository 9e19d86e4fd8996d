// `hb gate`: the release job's question, answered from signed attestations against the policy in
// hb.config.ts: may these artifacts be promoted? Each check passes or fails on its own; with a
// signing key the answer is written as a SLSA Verification Summary beside each artifact, and an
// emergency bypass lets a failing release through only on the record.
import type { KeyObject } from "node:crypto";
import { hostname } from "node:os";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { sha256Hex } from "../../base/digest";
import { HbError } from "../../base/errors";
import { loadPrivateKey } from "../../base/keys";
import { isObject } from "../../base/untrusted";
import { attestationBundle } from "../../provenance/attestation";
import { VSA_SUFFIX, findAttestationFiles } from "../../provenance/attestation-files";
import { corroborate } from "../../provenance/corroborate";
import { type AuditFacts, type GateCheck, type GateCheckName, releaseChecks } from "../../provenance/release-checks";
import { loadTrustedBuilders } from "../../provenance/trusted-builders";
import { artifactSha256OfFile, expectedCommit } from "../../provenance/verify";
import { artifactPurl, buildVsaStatement } from "../../provenance/vsa";
import { type EffectivePolicy, effectivePolicy } from "../../workspace/release-config";
import { CONFIG_FILE, openWorkspace, workspacePath } from "../../workspace/workspace";
import { withWorkspaceConfig } from "../analyze";
import { releaseSet } from "../release-set";
import { type RecordHeader, appendRunRecord, recordHeader, recordLimits } from "../run-record";
import { type BypassClosure, type BypassRecord, checkBypassId, closeBypass, openBypasses, recordBypass } from "./bypass-log";

export interface GateOptions {
  cwd: string;
  /** artifact files as given; none: the outputs of release.targets under hb-out/ */
  artifacts: readonly string[];
  /** --attestation: files or directories, besides each artifact's own beside it */
  attestations: readonly string[];
  /** the full commit id the release is of */
  sourceCommit: string;
  /** with it, a signed verification summary is written beside each artifact */
  signingKey?: string;
  /** the VSA's verifier.id (default urn:hb:verifier:local:<host>) */
  verifierId?: string;
  /** `hb build --audit --report FILE`, for maxHermeticViolations */
  auditReport?: string;
  /** an emergency: let a failing release through, on the record */
  bypass?: { id: string; reason: string };
  outputBase?: string;
  hbVersion: string;
  analyzerScript: string;
  signal: AbortSignal;
  onLockWait?(message: string): void;
}

export type GateVerdict = "passed" | "failed" | "bypassed";

export interface ArtifactVerdict {
  /** as given (or its hb-out/ path) */
  artifact: string;
  /** its workspace path (absolute outside the workspace): what reports key it by */
  path: string;
  sha256: string;
  /** the name its trusted attestations give this digest (e.g. hb-out/app/package.tgz), when one does */
  subject?: string;
  result: GateVerdict;
  checks: GateCheck[];
  /** the attestation files the verdict rests on (those with an envelope a trusted key signed) */
  inputAttestations: { path: string; sha256: string }[];
  /** the verification summary written, when signing */
  vsa?: string;
}

/** What `hb gate` answers, as plain data (`--output json`, `--report`, and run records). */
export interface GateResult {
  version: 1;
  sourceCommit: string;
  /** sha256 of the effective policy, its keys by key id */
  policyDigest: string;
  result: GateVerdict;
  artifacts: ArtifactVerdict[];
  /** the bypass this run recorded */
  bypass?: BypassRecord;
  /** every bypass of the output base not yet closed with a postmortem */
  openBypasses: BypassRecord[];
}

/** The gate names its machine unless told who it is, as a local build does. */
export function defaultVerifierId(): string {
  return `urn:hb:verifier:local:${hostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")}`;
}

/**
 * The policy's digest: sha256 of its canonical JSON, with every builder's keys named by key id,
 * so the digest changes with a key's content, never with where its file lies.
 */
export function policyDigest(policy: EffectivePolicy, keyIds: ReadonlyMap<string, readonly string[]>): string {
  const builders = [...keyIds.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, keys]) => [id, [...keys].sort()]);
  return sha256Hex(
    JSON.stringify({
      builders,
      corroboration: policy.corroboration,
      cleanTree: policy.cleanTree,
      pinnedInputs: policy.pinnedInputs,
      sandboxed: policy.sandboxed,
      strict: policy.strict,
      maxHermeticViolations: policy.maxHermeticViolations ?? null,
    }),
  );
}

/** Reads `hb build --audit --report FILE`; a file that is not one cannot be evaluated (exit 2). */
function readAuditReport(path: string, shown: string): AuditFacts {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new HbError(
      "UNREADABLE_FILE",
      `cannot read the audit report ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      {
        hint: "give --audit-report the file hb build --audit --report FILE wrote",
      },
    );
  }
  if (!isObject(value) || typeof value.hermeticViolations !== "number" || !Array.isArray(value.targets)) {
    throw new HbError("UNREADABLE_FILE", `${shown} is not the report of an audited build (no hermeticViolations)`, {
      hint: "write it with hb build <targets> --audit --report FILE",
    });
  }
  const outputs = value.targets
    .flatMap((t) => (isObject(t) && Array.isArray(t.outputs) ? t.outputs : []))
    .flatMap((o) => (isObject(o) && typeof o.sha256 === "string" ? [o.sha256] : []));
  const findings = (Array.isArray(value.audit) ? value.audit : []).flatMap((a) =>
    isObject(a) && typeof a.label === "string"
      ? [
          ...(Array.isArray(a.reads) ? a.reads : []).map((r) => `${a.label} read ${String(r)}`),
          ...(Array.isArray(a.connects) ? a.connects : []).map((c) => `${a.label} connected to ${String(c)}`),
        ]
      : [],
  );
  return { file: shown, hermeticViolations: value.hermeticViolations, outputs, findings };
}

function writeWhole(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** What `hb gate` records: its result whole. */
export interface GateRecord extends RecordHeader, GateResult {}

/** `hb gate`: checks each artifact against release.policy; never throws for a check that fails. */
export async function gate(opts: GateOptions): Promise<GateRecord> {
  const started = Date.now();
  const sourceCommit = expectedCommit(opts.sourceCommit)!;
  if (opts.bypass) {
    checkBypassId(opts.bypass.id);
    if (opts.bypass.reason.trim() === "") throw new HbError("USAGE", "--bypass needs --reason TEXT: why the release cannot wait");
  }
  const signer: KeyObject | undefined = opts.signingKey ? loadPrivateKey(resolve(opts.cwd, opts.signingKey)) : undefined;
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const hide = opts.signingKey ? [resolve(opts.cwd, opts.signingKey)] : [];
  return withWorkspaceConfig(workspace, { ...opts, hide, patterns: [] }, async ({ config, release, analyze }) => {
    if (!release?.policy) {
      throw new HbError("BAD_CONFIG", `no release policy in ${CONFIG_FILE}: the gate has nothing to check against`, {
        location: { file: CONFIG_FILE },
        hint: 'add release: { targets: ["//app:package"], policy: { builders: { "urn:hb:ci:main": ["keys/ci.pem"] } } }',
      });
    }
    const policy = effectivePolicy(release.policy);
    const { keys, builders: keyIds } = loadTrustedBuilders(workspace.root, policy.builders);
    const digest = policyDigest(policy, keyIds);

    let artifacts = [...opts.artifacts];
    if (artifacts.length === 0) {
      artifacts = [...releaseSet((await analyze(release.targets)).graph).outputs];
      if (artifacts.length === 0) throw new HbError("USAGE", `release.targets (${release.targets.join(" ")}) have no outputs to gate`);
      artifacts = artifacts.map((f) => relative(opts.cwd, join(workspace.root, f)) || f);
    }
    const audit = opts.auditReport ? readAuditReport(resolve(opts.cwd, opts.auditReport), opts.auditReport) : undefined;
    const given = opts.attestations.map((a) => resolve(opts.cwd, a));
    const now = new Date();

    const verdicts: ArtifactVerdict[] = artifacts.map((artifact) => {
      const path = resolve(opts.cwd, artifact);
      const sha256 = artifactSha256OfFile(path);
      // named as the user would: relative to where hb runs
      const files = findAttestationFiles(path, given).map((f) => ({ ...f, path: relative(opts.cwd, f.path) || f.path }));
      const corroboration = corroborate({
        artifactSha256: sha256,
        artifactPath: path,
        files,
        keys,
        builders: keyIds,
        threshold: policy.corroboration,
        agreeOn: sourceCommit,
        // a dirty tree fails the clean-tree check on its own, not corroboration too
        allowDirty: true,
      });
      const checks = releaseChecks({ artifact, sha256, policy, sourceCommit, corroboration, audit, targets: release.targets });
      const failed = checks.some((c) => c.status === "fail");
      const verified = corroboration.envelopes.flatMap((e) =>
        e.verification.ok ? [{ file: e.file, statement: e.verification.statement }] : [],
      );
      const used = new Set(verified.map((e) => e.file));
      const subject = verified.flatMap((e) => e.statement.subject).find((s) => s.digest?.sha256 === sha256)?.name;
      return {
        artifact,
        path: workspacePath(workspace.root, path),
        sha256,
        ...(subject !== undefined ? { subject } : {}),
        result: !failed ? "passed" : opts.bypass ? "bypassed" : "failed",
        checks,
        inputAttestations: files
          .filter((f) => used.has(f.path))
          .map((f) => ({ path: relative(opts.cwd, f.path) || f.path, sha256: f.sha256 })),
      };
    });

    const bypassed = verdicts.filter((v) => v.result === "bypassed");
    let bypass: BypassRecord | undefined;
    if (opts.bypass && bypassed.length > 0) {
      bypass = {
        version: 1,
        type: "bypass",
        id: opts.bypass.id,
        reason: opts.bypass.reason,
        at: now.toISOString(),
        sourceCommit,
        artifacts: bypassed.map((v) => ({ artifact: v.artifact, sha256: v.sha256, failedChecks: failedChecks(v.checks) })),
      };
      // recorded before any summary says so: no bypass goes unlogged
      recordBypass(workspace.outputBase, bypass);
    }

    if (signer) {
      const verifierId = opts.verifierId ?? defaultVerifierId();
      for (const v of verdicts) {
        const path = resolve(opts.cwd, v.artifact);
        const statement = buildVsaStatement({
          subject: { name: v.subject ?? subjectName(v.artifact, path, workspace.root), sha256: v.sha256 },
          verifierId,
          hbVersion: opts.hbVersion,
          timeVerified: now,
          resourceUri: artifactPurl(basename(path), v.sha256),
          policyDigest: digest,
          inputAttestations: v.inputAttestations.map((a) => ({ name: a.path, sha256: a.sha256 })),
          result: v.result,
          sourceCommit,
          checks: v.checks,
          ...(v.result === "bypassed" ? { bypass: { ...opts.bypass!, failedChecks: failedChecks(v.checks) } } : {}),
        });
        writeWhole(`${path}${VSA_SUFFIX}`, attestationBundle(statement, signer));
        v.vsa = `${v.artifact}${VSA_SUFFIX}`;
      }
    }

    const result: GateVerdict = verdicts.some((v) => v.result === "failed")
      ? "failed"
      : verdicts.some((v) => v.result === "bypassed")
        ? "bypassed"
        : "passed";
    const gateResult: GateResult = {
      version: 1,
      sourceCommit,
      policyDigest: digest,
      result,
      artifacts: verdicts,
      ...(bypass ? { bypass } : {}),
      openBypasses: openBypasses(workspace.outputBase),
    };
    const record: GateRecord = {
      ...recordHeader("gate", workspace.root, started, { builderId: opts.verifierId ?? defaultVerifierId() }),
      ...gateResult,
    };
    appendRunRecord(workspace.outputBase, record, recordLimits(config));
    return record;
  });
}

/** `hb gate --close-bypass ID --postmortem URL`: closes an open bypass of the workspace's output base. */
export function closeGateBypass(opts: { cwd: string; outputBase?: string; id: string; postmortem: string }): BypassClosure {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  return closeBypass(workspace.outputBase, opts.id, opts.postmortem);
}

function failedChecks(checks: readonly GateCheck[]): GateCheckName[] {
  return checks.filter((c) => c.status === "fail").map((c) => c.check);
}

/** The artifact's name in the summary: its workspace path when it lies in the workspace, else its file name. */
function subjectName(given: string, path: string, root: string): string {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : basename(given);
}
