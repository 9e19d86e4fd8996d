import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import type { ActionInfo } from "../caching/action-cache";
import { OUT_DIR } from "../base/graph";
import { HbError } from "../base/errors";
import { SHA256_HEX, digestOfFile } from "../base/digest";
import { type Database, sqlite } from "../base/database";
import { type Workspace, openWorkspace } from "../workspace/workspace";
import { type RecordHeader, appendRunRecord, recordHeader } from "./run-record";

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
  provenance: { file: string; builderId: string; createdAt: string }[];
}

/** What `hb explain` records: what it was asked, and whether it could answer in full. */
export interface ExplainRecord extends RecordHeader {
  file?: string;
  sha256: string;
  /** actions known to have produced the content */
  producers: number;
  /** provenance statements covering it */
  provenance: number;
  /** answered in full: how it was made, and signed provenance for it */
  complete: boolean;
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
 * statements that cover it.
 */
export async function explain(opts: { cwd: string; what: string; outputBase?: string }): Promise<Explanation> {
  const started = Date.now();
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const explanation = await explainIn(workspace, opts);
  // how long a file took to explain, and whether fully (an action, and provenance covering it): an SLI
  const record: ExplainRecord = {
    ...recordHeader("explain", workspace.root, started),
    sha256: explanation.sha256,
    producers: explanation.producers.length,
    provenance: explanation.provenance.length,
    complete: explanation.producers.length > 0 && explanation.provenance.length > 0,
  };
  if (explanation.file !== undefined) record.file = explanation.file;
  appendRunRecord(workspace.outputBase, record);
  return explanation;
}

export async function explainIn(workspace: Workspace, opts: { cwd: string; what: string }): Promise<Explanation> {
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
    const rel = relative(workspace.root, abs);
    file = rel.startsWith("..") ? abs : rel.split(sep).join("/");
  }
  const dbPath = join(workspace.outputBase, "hb.db");
  if (!existsSync(dbPath)) throw new HbError("USAGE", `no hb state in ${workspace.outputBase}: nothing was built here yet`);
  const Db = sqlite();
  const db: Database = new Db(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT key, path FROM output_index WHERE hash = ? ORDER BY key, path").all(sha256) as {
      key: string;
      path: string;
    }[];
    const infoOf = db.prepare("SELECT info FROM action_info WHERE key = ?");
    const producerOf = db.prepare("SELECT key FROM output_index WHERE hash = ? LIMIT 1");
    const git = await gitState(workspace.root);
    const byKey = new Map<string, string[]>();
    for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.path]);
    const producers: ExplainedProducer[] = [];
    for (const [key, outputs] of byKey) {
      const row = infoOf.get(key) as { info: string } | undefined;
      if (!row) continue;
      const info = JSON.parse(row.info) as ActionInfo;
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
          const owner = p
            ? (JSON.parse((infoOf.get(p.key) as { info: string } | undefined)?.info ?? "{}") as Partial<ActionInfo>).owner
            : undefined;
          if (owner) e.producedBy = owner;
        } else if (kind === "source") e.git = describeSource(f.path, f.hash);
        inputs.push(e);
      };
      for (const f of info.inputs) add(f, "source");
      for (const f of info.tools) add(f, "tool");
      for (const f of info.toolchains) add(f, "toolchain");
      producers.push({ key, outputs, info, inputs });
    }
    const provenance = (
      db
        .prepare("SELECT file, builder_id AS builderId, created_ms AS createdMs FROM attestations WHERE hash = ? ORDER BY file")
        .all(sha256) as {
        file: string;
        builderId: string;
        createdMs: number;
      }[]
    ).map((p) => ({ file: p.file, builderId: p.builderId, createdAt: new Date(p.createdMs).toISOString() }));
    const out: Explanation = { sha256, producers, provenance };
    if (file !== undefined) out.file = file;
    if (size !== undefined) out.size = size;
    if (git.commit) out.commit = git.commit;
    return out;
  } finally {
    db.close();
  }
}
