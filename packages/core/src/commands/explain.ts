import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type ActionInfo, actionInfoReader } from "../caching/action-cache";
import { OUT_DIR } from "../base/graph";
import { HbError } from "../base/errors";
import { SHA256_HEX, digestOfFile } from "../base/digest";
import type { Database } from "../base/database";
import { ATTESTATION_SUFFIX } from "../provenance/attestation";
import { findAttestationFiles } from "../provenance/attestation-files";
import { type TrustedBuilders, loadTrustedBuilders, trustedProvenance } from "../provenance/trusted-builders";
import { type Workspace, openWorkspace, workspacePath } from "../workspace/workspace";
import { withWorkspaceConfig } from "./analyze";
import { type RecordHeader, appendRunRecord, recordHeader, recordLimits } from "./run-record";

export interface ExplainedInput {
  path: string;
  sha256: string;
  size: number;
  kind: "source" | "generated" | "tool" | "toolchain";
  /** generated: the target whose action wrote it */
  producedBy?: string;
  /** source: where it stands in git now */
  git?: "committed" | "changed since" | "not in git";
}

export interface ExplainedProducer {
  key: string;
  /** the output paths this content was written at */
  outputs: string[];
  info: ActionInfo;
  inputs: ExplainedInput[];
}

export interface Explanation {
  /** the file asked about, workspace-relative, if a path was given */
  file?: string;
  sha256: string;
  size?: number;
  producers: ExplainedProducer[];
  /** HEAD of the workspace's git checkout, if any */
  commit?: string;
  provenance: ExplainedProvenance[];
  /** the file is a source of the workspace (not under hb-out/): the targets whose actions read it */
  source?: { usedBy: string[] };
}

/** A provenance statement hb signed for this content. */
export interface ExplainedProvenance {
  /** workspace-relative */
  file: string;
  builderId: string;
  createdAt: string;
  /**
   * it verifies against release.policy.builders: the file still holds an hb build's statement of
   * this content, signed by a key the policy trusts for its builder id
   */
  trusted: boolean;
}

/** What `hb explain` records: what it was asked, and whether it could answer in full. */
export interface ExplainRecord extends RecordHeader {
  file?: string;
  sha256: string;
  /** actions known to have produced the content */
  producers: number;
  /** provenance statements covering it */
  provenance: number;
  /** answered in full (answeredInFull): how it was made, and provenance of it that verifies against the trusted builders */
  complete: boolean;
}

export interface ExplainOptions {
  cwd: string;
  /** a file, or a sha256 */
  what: string;
  outputBase?: string;
  analyzerScript: string;
  signal: AbortSignal;
}

/**
 * Whether an explanation answers in full, as the SLI counts it: the action that made the content,
 * and provenance of it that verifies against the builders release.policy trusts.
 */
export function answeredInFull(e: Explanation): boolean {
  return e.producers.length > 0 && e.provenance.some((p) => p.trusted);
}

async function gitState(root: string): Promise<{ commit?: string; changed: Set<string>; tracked: Map<string, string> }> {
  const changed = new Set<string>();
  const tracked = new Map<string, string>();
  const { execa } = await import("execa");
  const git = async (args: string[]) => {
    const r = await execa("git", ["-C", root, ...args], { reject: false });
    return r.exitCode === 0 ? String(r.stdout) : undefined;
  };
  const head = (await git(["rev-parse", "HEAD"]))?.trim();
  if (!head) return { changed, tracked };
  for (const l of ((await git(["status", "--porcelain", "--", "."])) ?? "").split("\n")) if (l.length > 3) changed.add(l.slice(3));
  for (const l of ((await git(["ls-files", "-s", "--", "."])) ?? "").split("\n")) {
    const m = /^\d+ ([0-9a-f]+) \d\t(.+)$/.exec(l);
    if (m) tracked.set(m[2]!, m[1]!);
  }
  return { commit: head, changed, tracked };
}

const gitBlobId = (bytes: Buffer) => createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");

/**
 * `hb explain`: how a file (or a sha256) came to be, from the local action cache: the target and
 * action, the full command and env, every input by digest (sources with where they stand in git,
 * generated ones with their producer), the tools, when and by which builder, and the provenance
 * statements that cover it, each verified against release.policy's builders (hb.config.ts is read
 * for them, as hb gate reads it).
 */
export async function explain(opts: ExplainOptions): Promise<Explanation> {
  const started = Date.now();
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  if (!existsSync(join(workspace.outputBase, "hb.db")))
    throw new HbError("USAGE", `no hb state in ${workspace.outputBase}: nothing was built here yet`);
  return withWorkspaceConfig(workspace, opts, async ({ base, config, release }) => {
    const explanation = await explainIn(workspace, base.db, opts, loadTrustedBuilders(workspace.root, release?.policy?.builders ?? {}));
    // how long a file took to explain, and whether in full: an SLI
    const record: ExplainRecord = {
      ...recordHeader("explain", workspace.root, started),
      sha256: explanation.sha256,
      producers: explanation.producers.length,
      provenance: explanation.provenance.length,
      complete: answeredInFull(explanation),
    };
    if (explanation.file !== undefined) record.file = explanation.file;
    appendRunRecord(workspace.outputBase, record, recordLimits(config));
    return explanation;
  });
}

/** Explains `opts.what` from the output base's database, its provenance verified against `trusted`. */
export async function explainIn(
  workspace: Workspace,
  db: Database,
  opts: { cwd: string; what: string },
  trusted: TrustedBuilders,
): Promise<Explanation> {
  let sha256: string;
  let file: string | undefined;
  let size: number | undefined;
  if (SHA256_HEX.test(opts.what)) sha256 = opts.what;
  else {
    const abs = resolve(opts.cwd, opts.what);
    if (!existsSync(abs))
      throw new HbError("USAGE", `no file ${opts.what}`, { hint: "give a path (e.g. hb-out/pkg/out.js) or a sha256 digest" });
    let d;
    try {
      d = digestOfFile(abs);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === "EISDIR" ? "it is a directory" : ((e as NodeJS.ErrnoException).code ?? String(e));
      throw new HbError("USAGE", `cannot explain ${opts.what}: ${why}`, {
        hint: "give a file (e.g. hb-out/pkg/out.js) or a sha256 digest; a directory output's files are explained one by one",
      });
    }
    sha256 = d.hash;
    size = d.size;
    file = workspacePath(workspace.root, abs);
  }
  const rows = db.prepare("SELECT key, path FROM output_index WHERE hash = ? ORDER BY key, path").all(sha256) as {
    key: string;
    path: string;
  }[];
  const infoOf = actionInfoReader(db);
  const producerOf = db.prepare("SELECT key FROM output_index WHERE hash = ? LIMIT 1");
  const git = await gitState(workspace.root);
  const byKey = new Map<string, string[]>();
  for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.path]);
  const producers: ExplainedProducer[] = [];
  for (const [key, outputs] of byKey) {
    const info = infoOf(key);
    if (!info) continue;
    const describeSource = (path: string, hash: string): ExplainedInput["git"] => {
      if (!git.commit) return "not in git";
      const blob = git.tracked.get(path);
      if (!blob) return "not in git";
      if (git.changed.has(path)) return "changed since";
      const abs = join(workspace.root, path);
      // committed and unchanged: the commit holds exactly this content if the digests agree
      return existsSync(abs) && digestOfFile(abs).hash === hash && gitBlobId(readFileSync(abs)) === blob ? "committed" : "changed since";
    };
    const inputs: ExplainedInput[] = [];
    const add = (f: { path: string; hash: string; size: number }, kind: ExplainedInput["kind"]) => {
      const e: ExplainedInput = { path: f.path, sha256: f.hash, size: f.size, kind };
      if (f.path.startsWith(OUT_DIR + "/")) {
        e.kind = "generated";
        const p = producerOf.get(f.hash) as { key: string } | undefined;
        const owner = p ? infoOf(p.key)?.owner : undefined;
        if (owner) e.producedBy = owner;
      } else if (kind === "source") e.git = describeSource(f.path, f.hash);
      inputs.push(e);
    };
    for (const f of info.inputs) add(f, "source");
    for (const f of info.tools) add(f, "tool");
    for (const f of info.toolchains) add(f, "toolchain");
    producers.push({ key, outputs, info, inputs });
  }
  const signed = db
    .prepare("SELECT file, builder_id AS builderId, created_ms AS createdMs FROM attestations WHERE hash = ? ORDER BY file")
    .all(sha256) as { file: string; builderId: string; createdMs: number }[];
  // each statement hb signed for this content, if its file still holds one, verified as hb gate verifies it
  const present = signed.map((p) => join(workspace.root, p.file)).filter((f) => existsSync(f));
  const artifact = file !== undefined ? resolve(workspace.root, file) : present[0]?.slice(0, -ATTESTATION_SUFFIX.length);
  const verified = new Set(
    artifact === undefined ? [] : trustedProvenance(trusted, sha256, artifact, findAttestationFiles(artifact, present)),
  );
  const provenance = signed.map((p) => ({
    file: p.file,
    builderId: p.builderId,
    createdAt: new Date(p.createdMs).toISOString(),
    trusted: verified.has(join(workspace.root, p.file)),
  }));
  const out: Explanation = { sha256, producers, provenance };
  // a source is no action's output: say so, and who reads it, from what the builds recorded
  if (file !== undefined && !isAbsolute(file) && file !== OUT_DIR && !file.startsWith(`${OUT_DIR}/`)) {
    const usedBy = new Set<string>();
    const mentions = db.prepare("SELECT info FROM action_info WHERE instr(info, ?) > 0").all(JSON.stringify(file)) as { info: string }[];
    for (const m of mentions) {
      const info = JSON.parse(m.info) as ActionInfo;
      if ([...info.inputs, ...info.tools].some((f) => f.path === file)) usedBy.add(info.owner);
    }
    out.source = { usedBy: [...usedBy].sort() };
  }
  if (file !== undefined) out.file = file;
  if (size !== undefined) out.size = size;
  if (git.commit) out.commit = git.commit;
  return out;
}
