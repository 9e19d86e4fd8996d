import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, posix } from "node:path";
import { EXECROOT, bwrapArgs, findBwrap, spawnProcess, writeSandboxEtc } from "@hb/core/engine";
import { type ActionResult, type Command, type Digest, type Directory, type Input, decode, encode } from "@hb/core/reapi";
import type { GrpcBlobs } from "./blobs";

/** Inputs from this size up are bound read-only from a copy kept per server, not copied per action. */
const BOUND_INPUT = 64 * 1024;

/** Where an action's input root is laid out, and what it reads that is not copied into it. */
interface LaidOut {
  root: string;
  /** large inputs: bound read-only at these paths (relative to the root) from these files */
  binds: { path: string; source: string }[];
}

/** A blob missing from the CAS while laying out an input root: the client must upload it (FAILED_PRECONDITION). */
export class MissingBlob extends Error {
  constructor(readonly digest: Digest) {
    super(`blobs/${digest.hash}/${digest.size_bytes} is not in the CAS`);
  }
}

function safeName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

/**
 * Runs REAPI Commands in the same bwrap sandbox hb uses locally (docs/ARCHITECTURE.md, Sandbox):
 * the input root laid out as the execroot (writable: a Command may write any of its output
 * paths), system directories read-only, no network, no host env, no capabilities.
 */
export class CommandRunner {
  private readonly etcDir: string;
  private readonly bound = new Map<string, string>();

  constructor(
    private readonly blobs: GrpcBlobs,
    /** a directory of the store's temporary area: wiped when the server starts */
    private readonly workDir: string,
  ) {
    this.etcDir = join(workDir, "etc");
    this.inputDir = join(workDir, "inputs");
    writeSandboxEtc(this.etcDir);
    mkdirSync(this.inputDir, { recursive: true });
  }

  private readonly inputDir: string;
  private runs = 0;

  /** Lays out the input root; throws MissingBlob for a blob the CAS lacks. */
  private async layOut(instance: string, rootDigest: Digest, root: string): Promise<LaidOut> {
    const out: LaidOut = { root, binds: [] };
    const walk = async (digest: Digest, dir: string, rel: string): Promise<void> => {
      const bytes = await this.blobs.read(instance, digest);
      if (!bytes) throw new MissingBlob(digest);
      const d: Directory = decode("build.bazel.remote.execution.v2.Directory", bytes);
      mkdirSync(dir, { recursive: true });
      for (const f of d.files) {
        if (!safeName(f.name) || !f.digest) throw new Error(`a file name in the input root is not a plain name: ${JSON.stringify(f.name)}`);
        const path = join(dir, f.name);
        if (f.digest.size_bytes >= BOUND_INPUT) {
          writeFileSync(path, "");
          out.binds.push({ path: posix.join(rel, f.name), source: await this.boundCopy(instance, f.digest, f.is_executable) });
          continue;
        }
        const data = await this.blobs.read(instance, f.digest);
        if (!data) throw new MissingBlob(f.digest);
        writeFileSync(path, data, { mode: f.is_executable ? 0o755 : 0o644 });
      }
      for (const s of d.symlinks) {
        if (!safeName(s.name)) throw new Error(`a symlink name in the input root is not a plain name: ${JSON.stringify(s.name)}`);
        symlinkSync(s.target, join(dir, s.name));
      }
      for (const sub of d.directories) {
        if (!safeName(sub.name) || !sub.digest)
          throw new Error(`a directory name in the input root is not a plain name: ${JSON.stringify(sub.name)}`);
        await walk(sub.digest, join(dir, sub.name), posix.join(rel, sub.name));
      }
    };
    await walk(rootDigest, root, "");
    return out;
  }

  /** A read-only copy of a large input, made once per server: bound into each sandbox that reads it. */
  private async boundCopy(instance: string, digest: Digest, executable: boolean): Promise<string> {
    const name = `${digest.hash}${executable ? "-x" : ""}`;
    const known = this.bound.get(name);
    if (known && existsSync(known)) return known;
    const path = join(this.inputDir, name);
    const tmp = `${path}.tmp`;
    const chunks: Buffer[] = [];
    for await (const chunk of this.blobs.stream(instance, digest, 0)) {
      if (chunk === undefined) throw new MissingBlob(digest);
      chunks.push(chunk);
    }
    writeFileSync(tmp, Buffer.concat(chunks), { mode: executable ? 0o555 : 0o444 });
    renameSync(tmp, path);
    this.bound.set(name, path);
    return path;
  }

  /** Runs one Command; the result's blobs are in the CAS. Throws MissingBlob for a missing input. */
  async run(instance: string, command: Command, inputRoot: Digest, timeoutMs: number, signal: AbortSignal): Promise<Input<ActionResult>> {
    const dir = join(this.workDir, `run-${++this.runs}`);
    const root = join(dir, "root");
    try {
      const laid = await this.layOut(instance, inputRoot, root);
      const wd = posix.normalize(command.working_directory || ".");
      if (wd.startsWith("..") || wd.startsWith("/"))
        throw new Error(`working_directory '${command.working_directory}' leaves the input root`);
      const outputs = command.output_paths.length > 0 ? command.output_paths : [...command.output_files, ...command.output_directories];
      // REAPI: the server makes the parent directories of every output, and the output directories' own
      for (const p of outputs) mkdirSync(dirname(join(root, wd, p)), { recursive: true });
      for (const p of command.output_directories) mkdirSync(join(root, wd, p), { recursive: true });
      const env = Object.fromEntries(command.environment_variables.map((e) => [e.name, e.value]));
      const args = bwrapArgs({ execroot: root, outDir: root, writableAt: "", env, etcDir: this.etcDir, network: false });
      for (const b of laid.binds) args.push("--ro-bind", b.source, `${EXECROOT}/${b.path}`);
      args[args.indexOf("--chdir") + 1] = posix.join(EXECROOT, wd);
      const timeout = AbortSignal.timeout(timeoutMs);
      const run = await spawnProcess(findBwrap(), [...args, "--", ...command.arguments], {
        env: {},
        signal: AbortSignal.any([signal, timeout]),
        diesWithParent: true,
      });
      const stderr =
        run.spawnError ?? (timeout.aborted ? `${run.stderr}\n(killed after the action's timeout of ${timeoutMs} ms)` : run.stderr);
      const result: Input<ActionResult> = {
        exit_code: run.exitCode ?? (timeout.aborted ? 124 : 128),
        stdout_digest: this.store(instance, Buffer.from(run.stdout)),
        stderr_digest: this.store(instance, Buffer.from(stderr)),
        output_files: [],
        output_directories: [],
        output_file_symlinks: [],
        output_symlinks: [],
        execution_metadata: { worker: "hb-cache-server" },
      };
      for (const p of outputs) this.collect(instance, join(root, wd, p), p, command, result);
      return result;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private store(instance: string, bytes: Buffer): Digest {
    const digest = { hash: createHash("sha256").update(bytes).digest("hex"), size_bytes: bytes.length };
    this.blobs.put(instance, digest, bytes);
    return digest;
  }

  private storeFile(instance: string, abs: string): Digest {
    const bytes = readFileSync(abs);
    return this.store(instance, bytes);
  }

  private collect(instance: string, abs: string, path: string, command: Command, result: Input<ActionResult>): void {
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) {
      const link = { path, target: readlinkSync(abs) };
      if (command.output_paths.length > 0) result.output_symlinks!.push(link);
      else result.output_file_symlinks!.push(link);
    } else if (st.isFile()) {
      result.output_files!.push({ path, digest: this.storeFile(instance, abs), is_executable: (st.mode & 0o100) !== 0 });
    } else if (st.isDirectory() && (command.output_paths.length > 0 || command.output_directories.includes(path))) {
      const children: Input<Directory>[] = [];
      const rootDir = this.tree(instance, abs, children);
      const tree = encode("build.bazel.remote.execution.v2.Tree", { root: rootDir, children });
      result.output_directories!.push({ path, tree_digest: this.store(instance, tree) });
    }
  }

  /** A directory as a Tree's Directory, its files stored, its subdirectories appended to `children`. */
  private tree(instance: string, abs: string, children: Input<Directory>[]): Input<Directory> {
    const d: Input<Directory> = { files: [], directories: [], symlinks: [] };
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) d.symlinks!.push({ name, target: readlinkSync(p) });
      else if (st.isFile()) d.files!.push({ name, digest: this.storeFile(instance, p), is_executable: (st.mode & 0o100) !== 0 });
      else if (st.isDirectory()) {
        // an action may leave directories it cannot read: make them readable to collect them
        chmodSync(p, 0o755);
        const sub = this.tree(instance, p, children);
        const bytes = encode("build.bazel.remote.execution.v2.Directory", sub);
        children.push(sub);
        d.directories!.push({ name, digest: { hash: createHash("sha256").update(bytes).digest("hex"), size_bytes: bytes.length } });
      }
    }
    return d;
  }
}
