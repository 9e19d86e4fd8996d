import type { KeyObject } from "node:crypto";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import type { FileDigest, LockfilePin, ProvenanceInput } from "../provenance/statement";
import { buildProvenanceStatement } from "../provenance/statement";
import { type ActionOutputs, actionOutputs } from "../provenance/byproducts";
import { ATTESTATION_SUFFIX, attestationBundle } from "../provenance/attestation";
import { rebuildAttestationName } from "../provenance/attestation-files";
import { keyId, loadPrivateKey } from "../base/keys";
import { shortId } from "../base/dsse";
import { HbError } from "../base/errors";
import type { ActionGraph } from "../base/graph";
import { OUT_DIR } from "../base/graph";
import type { ActionOutcome } from "../execution/executor";
import { lockfileTree, npmPolicy } from "../fetch/requests";
import { readHbLock } from "../fetch/hb-lock";
import type { OutputBase } from "../caching/output-base";
import type { Database } from "../base/database";
import type { NpmConfig } from "../workspace/config";
import type { Workspace } from "../workspace/workspace";
import type { SandboxMode } from "../base/action-env";
import { CONFIG_FILE } from "../workspace/workspace";

export interface ProvenanceRequest {
  /** PEM file of the Ed25519 private key (PKCS#8) */
  signingKey: string;
  /** URI naming the build platform; default urn:hb:builder:local:<hostname> */
  builderId?: string;
  /** sign a tree with uncommitted changes (recorded as dirty) or outside git */
  allowDirty?: boolean;
}

export interface SourceState {
  commit?: { sha: string; dirty: boolean };
  /**
   * hb.lock.json's pins as the build started: what was reviewed. A tarball this build's fetch
   * pinned on first fetch is recorded unpinned, so a release gate does not take it as reviewed.
   */
  npmPins: ReadonlyMap<string, string>;
}

/**
 * Before the build: provenance is signed only for a sandboxed build of a clean git tree (or with
 * --allow-dirty, which the statement then records). The key must load.
 */
export async function prepareProvenance(
  workspace: Workspace,
  req: ProvenanceRequest,
  mode: SandboxMode | undefined,
  flag: "--provenance" | "--attest" = "--provenance",
): Promise<{ key: KeyObject; source: SourceState }> {
  if (mode === "none") {
    throw new HbError("USAGE", `${flag} needs a sandboxed build; it is not signed with --sandbox=none`, {
      hint: "drop --sandbox=none",
    });
  }
  const key = loadPrivateKey(req.signingKey);
  const { root } = workspace;
  const npmPins = readHbLock(root);
  const { execa } = await import("execa");
  const head = await execa("git", ["-C", root, "rev-parse", "HEAD"], { reject: false });
  if (head.exitCode !== 0) {
    if (!req.allowDirty) {
      throw new HbError("USAGE", `${flag} attests a source commit, and the workspace is not a git checkout with a commit`, {
        hint: "commit the sources, or pass --allow-dirty to sign without a commit (the statement records none)",
      });
    }
    return { key, source: { npmPins } };
  }
  // hb's own directories are never a change to the sources, .gitignore'd or not (a new project's
  // first --provenance called the tree dirty for them, and hinted to commit them)
  const own = [workspace.outDir, workspace.outputBase]
    .map((d) => relative(root, d))
    .filter((d) => d !== "" && !d.startsWith("..") && !isAbsolute(d))
    .map((d) => `:(exclude,literal)${d}`);
  const status = await execa("git", ["-C", root, "status", "--porcelain", "--untracked-files=normal", "--", ".", ...own], {
    reject: false,
  });
  const changed = String(status.stdout)
    .split("\n")
    .filter((l) => l.trim() !== "");
  if (changed.length > 0 && !req.allowDirty) {
    throw new HbError(
      "USAGE",
      `${flag} needs a clean source tree; ${changed.length} file(s) differ from the commit: ${changed
        .slice(0, 5)
        .map((l) => l.slice(3))
        .join(", ")}${changed.length > 5 ? ", ..." : ""}`,
      {
        hint: "commit (or stash) the changes, or pass --allow-dirty (the statement then records a dirty tree)",
      },
    );
  }
  return { key, source: { commit: { sha: String(head.stdout).trim(), dirty: changed.length > 0 }, npmPins } };
}

export interface WriteProvenance {
  root: string;
  base: OutputBase;
  graph: ActionGraph;
  outcomes: readonly ActionOutcome[];
  subjects: readonly { path: string; sha256: string }[];
  patterns: readonly string[];
  mode: SandboxMode;
  sourceDateEpoch: number;
  hbVersion: string;
  npm?: NpmConfig;
  key: KeyObject;
  source: SourceState;
  builderId: string;
  startedOn: Date;
  finishedOn: Date;
}

/** What a statement records of the actions a build ran or took from the cache. */
interface ClosureFacts {
  sources: FileDigest[];
  tools: FileDigest[];
  pins: LockfilePin[];
  actions: ActionOutputs[];
}

/** The sources, tools, lockfile pins and per-action outputs of a build's outcomes. */
function closureFacts(root: string, outcomes: readonly ActionOutcome[], npm: NpmConfig | undefined, source: SourceState): ClosureFacts {
  const policy = { ...npmPolicy(npm, root), pins: source.npmPins };
  const sources = new Map<string, FileDigest>();
  const tools = new Map<string, FileDigest>();
  const pins: LockfilePin[] = [];
  const actions: { id: number; record: ActionOutputs }[] = [];
  for (const o of outcomes) {
    if (!o.material) continue;
    for (const f of o.material.inputs) if (!f.path.startsWith(OUT_DIR + "/")) sources.set(f.path, { path: f.path, sha256: f.hash });
    for (const f of [...o.material.tools, ...o.material.toolchains])
      if (!f.path.startsWith(OUT_DIR + "/")) tools.set(f.path, { path: f.path, sha256: f.hash });
    if (o.action.kind === "npm_install") {
      for (const p of lockfileTree(o.action, root, policy).packages)
        pins.push({ name: p.name, version: p.version, integrity: p.integrity || undefined });
    }
    if (o.key && o.result) {
      const files = o.result.files.map((f) => ({ path: f.path, sha256: f.hash, executable: f.executable }));
      const sandbox = o.action.kind === "run" ? o.material.platform.sandbox : undefined;
      actions.push({ id: o.action.id, record: actionOutputs(o.action, o.key, files, sandbox) });
    }
  }
  // ids are assigned dependencies first: id order is a build order
  actions.sort((a, b) => a.id - b.id);
  return { sources: [...sources.values()], tools: [...tools.values()], pins, actions: actions.map((a) => a.record) };
}

/** What a statement of this build says, for `subjects`. */
function provenanceInput(
  w: Omit<WriteProvenance, "base" | "graph">,
  facts: ClosureFacts,
  subjects: readonly { path: string; sha256: string }[],
  invocationId: string,
): ProvenanceInput {
  return {
    subjects: subjects.map((s) => ({ name: s.path, sha256: s.sha256 })),
    targets: w.patterns,
    configPath: CONFIG_FILE,
    hbVersion: w.hbVersion,
    sandbox: w.mode,
    sourceDateEpoch: w.sourceDateEpoch,
    sourceCommit: w.source.commit,
    sources: facts.sources,
    tools: facts.tools,
    lockfilePins: facts.pins,
    builderId: w.builderId,
    invocationId,
    startedOn: w.startedOn,
    finishedOn: w.finishedOn,
    actions: facts.actions,
  };
}

/** Writes through a temp file and a rename, so a reader never sees half an attestation. */
function writeWhole(abs: string, text: string): void {
  const tmp = `${abs}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, abs);
}

/**
 * Signs one in-toto/SLSA statement for the build, its subjects the requested targets' outputs, and
 * writes it beside each of them as `<output>.intoto.jsonl`. An action tagged no-sandbox that ran
 * unsandboxed (--allow-unsandboxed) is recorded as such in the byproducts, as a dirty tree is on
 * the commit: a release policy decides what it accepts. Returns the files written.
 */
export function writeProvenance(w: WriteProvenance): string[] {
  const statement = buildProvenanceStatement(
    provenanceInput(w, closureFacts(w.root, w.outcomes, w.npm, w.source), w.subjects, randomUUID()),
  );
  const bundle = attestationBundle(statement, w.key);
  const record = w.base.db.prepare("INSERT OR REPLACE INTO attestations (hash, file, builder_id, created_ms) VALUES (?, ?, ?, ?)");
  const written: string[] = [];
  for (const s of w.subjects) {
    const file = `${s.path}${ATTESTATION_SUFFIX}`;
    writeWhole(join(w.root, file), bundle);
    record.run(s.sha256, file, w.builderId, Date.now());
    written.push(file);
  }
  return written;
}

export interface WriteRebuildAttestations extends Omit<WriteProvenance, "base" | "graph"> {
  /** how many from-scratch runs agreed */
  runs: number;
  /** absolute directory for the files; default: beside each output (under the workspace's hb-out/) */
  attestDir?: string;
}

/**
 * Signs, for each subject, a rebuild statement (HB_REBUILD_TYPE) of that one output, and writes it
 * as `<output basename>.rebuild.<key id prefix>.intoto.jsonl`: one file per builder and output, as
 * in-toto lays out several signers' attestations. Returns the files written.
 */
export function writeRebuildAttestations(w: WriteRebuildAttestations): string[] {
  const facts = closureFacts(w.root, w.outcomes, w.npm, w.source);
  const name = (path: string) => rebuildAttestationName(basename(path), shortId(keyId(w.key)));
  const files = w.subjects.map((s) => ({
    subject: s,
    file: join(w.attestDir ?? join(w.root, dirname(s.path)), name(s.path)),
  }));
  const seen = new Map<string, string>();
  for (const { subject, file } of files) {
    const other = seen.get(file);
    if (other !== undefined) {
      throw new HbError("USAGE", `--attest-dir: ${other} and ${subject.path} would both be attested as ${file}`, {
        hint: "attest them into separate directories (one hb verify --attest per target), or leave out --attest-dir to write beside each output",
      });
    }
    seen.set(file, subject.path);
  }
  const invocationId = randomUUID();
  for (const { subject, file } of files) {
    const statement = buildProvenanceStatement({ ...provenanceInput(w, facts, [subject], invocationId), rebuild: { runs: w.runs } });
    mkdirSync(dirname(file), { recursive: true });
    writeWhole(file, attestationBundle(statement, w.key));
  }
  return files.map((f) => f.file);
}

/**
 * Removes `<output>.intoto.jsonl` beside each of `outputs` that hb did not write for the output's
 * bytes as they are now: an attestation left from an earlier build would describe other bytes
 * (an output rebuilt without --provenance). Returns the files removed.
 */
export function removeStaleAttestations(root: string, db: Database, outputs: readonly { path: string; sha256: string }[]): string[] {
  const signed = db.prepare("SELECT 1 FROM attestations WHERE hash = ? AND file = ?");
  const removed: string[] = [];
  for (const o of outputs) {
    const file = `${o.path}${ATTESTATION_SUFFIX}`;
    const abs = join(root, file);
    if (!existsSync(abs) || signed.get(o.sha256, file)) continue;
    rmSync(abs, { force: true });
    removed.push(file);
  }
  return removed;
}
