// The per-action record an attestation carries as SLSA byproducts: for every action of the
// build, its label, action key and output digests, in dependency order. Two builders' records of
// the same commit can then be compared action by action, which names the first action whose
// outputs differ rather than only the final artifact.
import { sha256Hex } from "../base/digest";
import type { SandboxMode } from "../base/action-env";
import { isObject } from "../base/untrusted";

/** One action's outputs, as a build or rebuild saw them. */
export interface ActionOutputs {
  label: string;
  mnemonic: string;
  actionKey: string;
  /** for commands (run actions): the sandbox they ran in; builtin actions run no command */
  sandbox?: SandboxMode;
  /** each declared output file, and each declared output directory (its tree digest), by path, sorted */
  outputs: { path: string; sha256: string }[];
  /** `outputsDigest` of every file the action wrote: equal digests, equal outputs */
  digest: string;
}

/** A file an action wrote, as far as its digest goes. */
export interface WrittenFile {
  path: string;
  sha256: string;
  executable: boolean;
}

/**
 * sha256 of the compact JSON array `[[path, sha256, executable], ...]` of the files, sorted by
 * path (code-unit order): one digest that changes with any file's content, name or mode.
 */
export function outputsDigest(files: readonly WrittenFile[]): string {
  const rows = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => [f.path, f.sha256, f.executable]);
  return sha256Hex(JSON.stringify(rows));
}

/**
 * The record of one action from what it wrote: a declared output file by its digest, a declared
 * output directory by the `outputsDigest` of the files under it.
 */
export function actionOutputs(
  a: { owner: string; mnemonic: string; outputs: readonly string[]; outputDirs: readonly string[] },
  key: string,
  files: readonly WrittenFile[],
  sandbox: SandboxMode | undefined,
): ActionOutputs {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const outputs = [
    ...a.outputs.flatMap((p) => (byPath.has(p) ? [{ path: p, sha256: byPath.get(p)!.sha256 }] : [])),
    ...a.outputDirs.map((d) => ({ path: `${d}/`, sha256: outputsDigest(files.filter((f) => f.path.startsWith(`${d}/`))) })),
  ].sort((x, y) => (x.path < y.path ? -1 : 1));
  const record: ActionOutputs = { label: a.owner, mnemonic: a.mnemonic, actionKey: key, outputs, digest: outputsDigest(files) };
  if (sandbox !== undefined) record.sandbox = sandbox;
  return record;
}

/** An in-toto ResourceDescriptor holding one action's record (statement.ts's type, seen from here). */
export interface ActionDescriptor {
  name: string;
  digest: { sha256: string };
  annotations: { [key: string]: string | { [path: string]: string } };
}

/** The byproducts of a statement: one descriptor per action, in the order given (dependency order). */
export function byproductDescriptors(actions: readonly ActionOutputs[]): ActionDescriptor[] {
  return actions.map((a) => ({
    name: a.label,
    digest: { sha256: a.digest },
    annotations: {
      hb_kind: "action",
      hb_mnemonic: a.mnemonic,
      hb_action_key: a.actionKey,
      ...(a.sandbox !== undefined ? { hb_sandbox: a.sandbox } : {}),
      hb_outputs: Object.fromEntries(a.outputs.map((o) => [o.path, o.sha256])),
    },
  }));
}

const SANDBOXES: readonly string[] = ["default", "strict", "none"];

/**
 * The action records of a verified statement's byproducts. The statement is signed but its
 * byproducts are only as well-formed as its signer made them: a descriptor that is not an hb
 * action record is passed over.
 */
export function readActionOutputs(byproducts: unknown): ActionOutputs[] {
  if (!Array.isArray(byproducts)) return [];
  const out: ActionOutputs[] = [];
  for (const d of byproducts) {
    if (!isObject(d) || typeof d.name !== "string" || !isObject(d.digest) || typeof d.digest.sha256 !== "string") continue;
    const n = d.annotations;
    if (!isObject(n) || n.hb_kind !== "action" || typeof n.hb_mnemonic !== "string" || typeof n.hb_action_key !== "string") continue;
    if (!isObject(n.hb_outputs) || !Object.values(n.hb_outputs).every((v) => typeof v === "string")) continue;
    const record: ActionOutputs = {
      label: d.name,
      mnemonic: n.hb_mnemonic,
      actionKey: n.hb_action_key,
      outputs: Object.entries(n.hb_outputs as Record<string, string>).map(([path, sha256]) => ({ path, sha256 })),
      digest: d.digest.sha256,
    };
    if (typeof n.hb_sandbox === "string" && SANDBOXES.includes(n.hb_sandbox)) record.sandbox = n.hb_sandbox as SandboxMode;
    out.push(record);
  }
  return out;
}

/** Where two builders' records of one action part. */
export interface ActionDifference {
  label: string;
  mnemonic: string;
  /** the outputs whose digests differ (empty when only a file's mode or an undeclared file differs) */
  outputs: { path: string; ours?: string; theirs?: string }[];
  /** whether the two builders computed the same action key (same inputs, tools and env) */
  sameKey: boolean;
}

/** An action is the same action in two records when it declares the same outputs (outputs have one producer). */
const identity = (a: ActionOutputs) => JSON.stringify(a.outputs.map((o) => o.path));

/**
 * The first action, in `ours`' (dependency) order, whose outputs differ from the same action in
 * `theirs`. Everything before it agreed, so its inputs from other actions agreed too: it is where
 * the builds part, not a consequence.
 */
export function firstDifferingAction(ours: readonly ActionOutputs[], theirs: readonly ActionOutputs[]): ActionDifference | undefined {
  const other = new Map(theirs.map((a) => [identity(a), a]));
  for (const a of ours) {
    const b = other.get(identity(a));
    if (b === undefined || b.digest === a.digest) continue;
    const theirsByPath = new Map(b.outputs.map((o) => [o.path, o.sha256]));
    const outputs = a.outputs
      .filter((o) => theirsByPath.get(o.path) !== o.sha256)
      .map((o) => ({ path: o.path, ours: o.sha256, theirs: theirsByPath.get(o.path) }));
    return { label: a.label, mnemonic: a.mnemonic, outputs, sameKey: a.actionKey === b.actionKey };
  }
  return undefined;
}
