import { statSync } from "node:fs";
import { posix } from "node:path";
import type { ActionResult as HbResult, OutputFile as HbFile } from "../../../base/action-result";
import { symlinkEntry } from "../../../base/action-result";
import type { RunAction } from "../../../base/graph";
import { sortedProperties } from "../../../keying/action-key";
import type { KeyedAction } from "../../../keying/action-keyer";
import type { LocalCas } from "../../local-cas";
import type { BlobSource } from "./cas-client";
import { digestKey, digestOf } from "./cas-client";
import { type ActionResult, type Digest, type Directory, type Input, type Tree, decode, encode } from "./proto";

/** One entry of a tree of files: a file by digest, or a symlink. */
export interface TreeEntry {
  path: string;
  digest?: Digest;
  executable?: boolean;
  symlink?: string;
}

/**
 * A tree of files as REAPI Directory messages (names sorted, so equal trees have equal digests):
 * the root's digest and every Directory's bytes by digest.
 */
export function merkleTree(entries: readonly TreeEntry[]): { root: Digest; directories: Map<string, { digest: Digest; bytes: Buffer }> } {
  interface Node {
    files: Map<string, TreeEntry>;
    dirs: Map<string, Node>;
  }
  const top: Node = { files: new Map(), dirs: new Map() };
  for (const e of entries) {
    const parts = e.path.split("/");
    let node = top;
    for (const part of parts.slice(0, -1)) {
      let next = node.dirs.get(part);
      if (!next) node.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      node = next;
    }
    node.files.set(parts[parts.length - 1]!, e);
  }
  const directories = new Map<string, { digest: Digest; bytes: Buffer }>();
  const byName = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const visit = (node: Node): Digest => {
    const files = byName(node.files);
    const dir: Input<Directory> = {
      files: files
        .filter(([, e]) => e.symlink === undefined)
        .map(([name, e]) => ({ name, digest: e.digest, is_executable: e.executable === true })),
      directories: byName(node.dirs).map(([name, sub]) => ({ name, digest: visit(sub) })),
      symlinks: files.filter(([, e]) => e.symlink !== undefined).map(([name, e]) => ({ name, target: e.symlink })),
    };
    const bytes = encode("build.bazel.remote.execution.v2.Directory", dir);
    const digest = digestOf(bytes);
    directories.set(digestKey(digest), { digest, bytes });
    return digest;
  };
  return { root: visit(top), directories };
}

/** An hb action as REAPI describes one: the Action, its Command, the input root and every blob they need. */
export interface ActionMessage {
  actionDigest: Digest;
  /** the Action, the Command and the input root's Directories: small, in memory */
  messages: BlobSource[];
  /** the input files: sources from the workspace, generated ones from the local CAS */
  inputs: BlobSource[];
}

/**
 * The REAPI Action for a keyed `run` action: argv, the complete env, the input root as a Merkle
 * tree of Directories (paths as in hb's execroot), the declared outputs and the platform
 * properties the key holds. hb's action key is its salt, so what the key covers beyond the Action (the host
 * fingerprint outside strict mode, toolchain pins, hb's action semantics) keeps results apart.
 */
export function actionMessage(a: RunAction, keyed: KeyedAction, cas: LocalCas): ActionMessage {
  const sizes = new Map([...keyed.material.inputs, ...keyed.material.tools, ...keyed.material.toolchains].map((f) => [f.path, f.size]));
  const inputs: BlobSource[] = [];
  const entries: TreeEntry[] = keyed.files.map((f) => {
    if (f.symlink !== undefined) return { path: f.path, symlink: f.symlink };
    const file = f.isSource ? f.source : cas.blobPath(f.hash);
    const digest = { hash: f.hash, size_bytes: sizes.get(f.path) ?? statSync(file).size };
    inputs.push({ digest, file });
    return { path: f.path, digest, executable: f.executable };
  });
  const tree = merkleTree(entries);
  const properties = sortedProperties(keyed.material.platform.properties);
  const env = Object.entries(keyed.material.env)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
  const command = encode("build.bazel.remote.execution.v2.Command", {
    arguments: [...a.argv],
    environment_variables: env,
    output_files: [...a.outputs].sort(),
    output_directories: [...a.outputDirs].sort(),
    platform: { properties },
  });
  const commandDigest = digestOf(command);
  const action = encode("build.bazel.remote.execution.v2.Action", {
    command_digest: commandDigest,
    input_root_digest: tree.root,
    do_not_cache: a.tags.includes("no-cache"),
    salt: Buffer.from(keyed.key, "hex"),
    platform: { properties },
  });
  const actionDigest = digestOf(action);
  return {
    actionDigest,
    messages: [
      { digest: actionDigest, bytes: action },
      { digest: commandDigest, bytes: command },
      ...[...tree.directories.values()].map((d) => ({ digest: d.digest, bytes: d.bytes })),
    ],
    inputs,
  };
}

/** hb's result as a REAPI ActionResult: files, and output directories as Trees (returned to upload). */
export function reapiResult(
  result: HbResult,
  metadata: Input<ActionResult>["execution_metadata"],
): { result: Input<ActionResult>; trees: BlobSource[] } {
  const trees: BlobSource[] = [];
  const outputDirectories = result.dirs.map((dir) => {
    const inside = result.files.filter((f) => f.path.startsWith(`${dir}/`));
    const { root, directories } = merkleTree(
      inside.map((f) => ({
        path: f.path.slice(dir.length + 1),
        symlink: f.symlink,
        digest: f.symlink === undefined ? { hash: f.hash, size_bytes: f.size } : undefined,
        executable: f.executable,
      })),
    );
    const rootBytes = directories.get(digestKey(root))!.bytes;
    const children = [...directories.values()]
      .filter((d) => d.digest.hash !== root.hash)
      .map((d) => decode("build.bazel.remote.execution.v2.Directory", d.bytes));
    const bytes = encode("build.bazel.remote.execution.v2.Tree", {
      root: decode("build.bazel.remote.execution.v2.Directory", rootBytes),
      children,
    });
    const digest = digestOf(bytes);
    trees.push({ digest, bytes });
    return { path: dir, tree_digest: digest };
  });
  const plain = result.files.filter((f) => !result.dirs.some((d) => f.path.startsWith(`${d}/`)));
  return {
    result: {
      output_files: plain.map((f) => ({ path: f.path, digest: { hash: f.hash, size_bytes: f.size }, is_executable: f.executable })),
      output_directories: outputDirectories,
      exit_code: result.exitCode,
      execution_metadata: metadata,
    },
    trees,
  };
}

/**
 * The files of a REAPI result as hb lists them (output directories expanded from their Trees,
 * read through `readTree`), sorted by path. Paths are the server's words: the caller checks them
 * against what the action declares before anything is written.
 */
export async function hbFiles(r: ActionResult, readTree: (d: Digest) => Promise<Buffer>): Promise<{ files: HbFile[]; dirs: string[] }> {
  const files: HbFile[] = r.output_files.map((f) => ({
    path: f.path,
    hash: f.digest?.hash ?? "",
    size: f.digest?.size_bytes ?? -1,
    executable: f.is_executable,
  }));
  for (const s of [...r.output_file_symlinks, ...r.output_symlinks]) files.push(symlinkEntry(s.path, s.target));
  const dirs: string[] = [];
  for (const d of r.output_directories) {
    dirs.push(d.path);
    if (!d.tree_digest) continue;
    const tree: Tree = decode("build.bazel.remote.execution.v2.Tree", await readTree(d.tree_digest));
    const byDigest = new Map(tree.children.map((c) => [digestKey(digestOf(encode("build.bazel.remote.execution.v2.Directory", c))), c]));
    const walk = (dir: Directory, at: string, depth: number) => {
      if (depth > 256) throw new Error(`the Tree of ${d.path} is deeper than 256 directories`);
      for (const f of dir.files)
        files.push({
          path: posix.join(at, f.name),
          hash: f.digest?.hash ?? "",
          size: f.digest?.size_bytes ?? -1,
          executable: f.is_executable,
        });
      for (const s of dir.symlinks) files.push(symlinkEntry(posix.join(at, s.name), s.target));
      for (const sub of dir.directories) {
        const child = sub.digest && byDigest.get(digestKey(sub.digest));
        if (!child) throw new Error(`the Tree of ${d.path} lacks the directory ${posix.join(at, sub.name)}`);
        walk(child, posix.join(at, sub.name), depth + 1);
      }
    };
    if (tree.root) walk(tree.root, d.path, 0);
  }
  files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { files, dirs: dirs.sort() };
}
