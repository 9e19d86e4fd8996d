import { RESERVED_ENV } from "../base/action-env";
import { SHA256_HEX } from "../base/digest";
import { HbError, type SourceLocation } from "../base/errors";
import { posix } from "node:path";
import { parseLabel } from "../base/label";
import { type ActionSpec, type ExecPath, type FetchAction, type NpmInstallAction, OUT_DIR, type ToolchainRef } from "../base/graph";
import { parseIntegrity, sha256Integrity } from "../base/integrity";
import type { File } from "../api/file";
import { MAX_ARG_BYTES, MAX_COMMAND_LINE_BYTES, SHELL_SETUP, commandLineCost, isBashScript } from "../api/shell";
import type { FetchOptions, NpmInstallOptions, RunOptions, TargetDecl, WriteOptions } from "../api/rule";

export function sortedUnique(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

/**
 * What `ctx.actions` records: each action a rule implementation declares, checked as it is
 * declared (it writes only outputs its target declared, one producer per file), with ids in
 * declaration order.
 */
export class ActionRecorder {
  readonly actions: ActionSpec[] = [];
  /** exec path -> id of the action that writes it */
  private readonly producedBy = new Map<ExecPath, number>();

  produces(path: ExecPath): boolean {
    return this.producedBy.has(path);
  }

  private claimOutputs(outputs: readonly File[], label: string, declared: ReadonlyMap<string, File>, location: SourceLocation): void {
    if (outputs.length === 0) throw new HbError("BAD_ATTRIBUTE", `an action of ${label} declares no outputs`, { location });
    for (const f of outputs) {
      if (declared.get(f?.shortPath)?.path !== f?.path) {
        throw new HbError("BAD_ATTRIBUTE", `an action of ${label} writes '${f?.path}', which ${label} did not declare`, {
          location,
          hint: "outputs come from ctx.declareFile / ctx.declareDirectory / output attributes of the same target",
        });
      }
      const other = this.producedBy.get(f.path);
      if (other !== undefined) {
        throw new HbError("OUTPUT_CONFLICT", `two actions of ${label} write ${f.path}`, { location });
      }
    }
  }

  run(opts: RunOptions, label: string, decl: TargetDecl, declared: ReadonlyMap<string, File>): number {
    const location = decl.location;
    const bad = (message: string, hint?: string) =>
      new HbError("BAD_ATTRIBUTE", `ctx.actions.run in ${label}: ${message}`, { location, hint });
    if (typeof opts !== "object" || opts === null) throw bad("takes an options object");
    const outputs = [...(opts.outputs ?? [])];
    this.claimOutputs(outputs, label, declared, location);
    const isFile = (f: unknown): f is File =>
      typeof f === "object" && f !== null && typeof (f as File).path === "string" && "isSource" in f;
    const isToolchain = (t: unknown): t is ToolchainRef =>
      typeof t === "object" && t !== null && typeof (t as ToolchainRef).path === "string" && typeof (t as ToolchainRef).sha256 === "string";
    const inputs = [...(opts.inputs ?? [])];
    const tools = [...(opts.tools ?? [])];
    for (const f of [...inputs, ...tools]) if (!isFile(f)) throw bad("inputs and tools must be Files (from ctx.files or ctx.attr)");
    const toolchains = new Map<string, ToolchainRef>();
    for (const t of opts.toolchains ?? []) {
      if (!isToolchain(t)) throw bad("toolchains must come from toolchain targets (toolchainOf(ctx.attr.x))");
      toolchains.set(t.path, { label: t.label, path: t.path, sha256: t.sha256 });
    }
    const relative = (path: string) => (path.includes("/") ? path : `./${path}`);
    let program: string;
    if (isFile(opts.executable)) {
      tools.push(opts.executable);
      program = relative(opts.executable.path);
    } else if (isToolchain(opts.executable)) {
      if (!toolchains.has(opts.executable.path)) toolchains.set(opts.executable.path, { ...opts.executable });
      program = opts.executable.path.startsWith("/") ? opts.executable.path : relative(opts.executable.path);
    } else if (typeof opts.executable === "string" && opts.executable.startsWith("/")) {
      program = opts.executable;
      // an absolute executable is an implicit toolchain: pinned by its digest at build time
      if (!toolchains.has(program)) toolchains.set(program, { label: "", path: program, sha256: "" });
    } else {
      throw bad("'executable' must be a File, a toolchain, or an absolute path such as /bin/bash");
    }
    const args = [...(opts.arguments ?? [])];
    if (!args.every((a) => typeof a === "string")) throw bad("'arguments' must be strings");
    // a bash script stops at its first failure, as a genrule's does, whatever rule wrote it
    if (isBashScript([program, ...args]) && args.length === 2) args[1] = SHELL_SETUP + args[1];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.env ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (typeof v !== "string") throw bad(`env ${k} must be a string`);
      if (RESERVED_ENV.has(k)) throw bad(`env ${k} is set by hb for every action (determinism)`);
      env[k] = v;
    }
    if (opts.timeout !== undefined && !(Number.isInteger(opts.timeout) && opts.timeout > 0))
      throw bad(`'timeout' must be a whole number of seconds above 0, not ${String(opts.timeout)}`);
    checkCommandLine([program, ...args], env, bad);
    const id = this.actions.length;
    const mnemonic = opts.mnemonic ?? "Action";
    this.actions.push({
      id,
      owner: label,
      mnemonic,
      kind: "run",
      argv: [program, ...args],
      env,
      inputs: sortedUnique(inputs.map((f) => f.path)),
      tools: sortedUnique(tools.map((f) => f.path)),
      toolchains: [...toolchains.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      outputs: sortedUnique(outputs.filter((f) => !f.isDirectory).map((f) => f.path)),
      outputDirs: sortedUnique(outputs.filter((f) => f.isDirectory).map((f) => f.path)),
      stamp: opts.stamp === true,
      tags: [...decl.tags],
      progress: opts.progressMessage ?? `${mnemonic} ${label}`,
      ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
      ...(Object.keys(decl.execProperties).length > 0 ? { execProperties: { ...decl.execProperties } } : {}),
    });
    for (const f of outputs) this.producedBy.set(f.path, id);
    return id;
  }

  write(opts: WriteOptions, label: string, decl: TargetDecl, declared: ReadonlyMap<string, File>): number {
    const location = decl.location;
    if (typeof opts?.content !== "string") {
      throw new HbError("BAD_ATTRIBUTE", `ctx.actions.write in ${label}: 'content' must be a string`, { location });
    }
    this.claimOutputs([opts.output], label, declared, location);
    if (opts.output.isDirectory)
      throw new HbError("BAD_ATTRIBUTE", `ctx.actions.write in ${label}: cannot write a directory`, { location });
    const id = this.actions.length;
    this.actions.push({
      id,
      owner: label,
      mnemonic: "Write",
      kind: "write",
      inputs: [],
      tools: [],
      toolchains: [],
      outputs: [opts.output.path],
      outputDirs: [],
      content: opts.content,
      executable: opts.executable === true,
      stamp: false,
      tags: [...decl.tags],
      progress: `Writing ${opts.output.path}`,
    });
    this.producedBy.set(opts.output.path, id);
    return id;
  }

  private pushAction(
    partial:
      | Omit<FetchAction, "id" | "owner" | "tools" | "toolchains" | "stamp" | "tags">
      | Omit<NpmInstallAction, "id" | "owner" | "tools" | "toolchains" | "stamp" | "tags">,
    label: string,
    decl: TargetDecl,
  ): number {
    const id = this.actions.length;
    this.actions.push({ id, owner: label, tools: [], toolchains: [], stamp: false, tags: [...decl.tags], ...partial });
    for (const o of [...partial.outputs, ...partial.outputDirs]) this.producedBy.set(o, id);
    return id;
  }

  fetch(opts: FetchOptions, label: string, decl: TargetDecl, declared: ReadonlyMap<string, File>): number {
    const bad = (m: string) => new HbError("BAD_ATTRIBUTE", `ctx.actions.fetch in ${label}: ${m}`, { location: decl.location });
    if (typeof opts?.url !== "string" || !/^https?:\/\/[^\s]+$/.test(opts.url)) throw bad("'url' must be an http(s) URL");
    let integrity: string;
    if (opts.sha256 !== undefined) {
      if (!SHA256_HEX.test(opts.sha256)) throw bad(`sha256 must be 64 lowercase hex digits, not '${opts.sha256}'`);
      integrity = sha256Integrity(opts.sha256);
    } else if (opts.integrity !== undefined && parseIntegrity(opts.integrity)) {
      integrity = opts.integrity;
    } else {
      throw bad("pin the file: give its sha256 (or an SRI integrity of sha256/384/512)");
    }
    this.claimOutputs([opts.output], label, declared, decl.location);
    if (opts.output.isDirectory) throw bad("fetches a file, not a directory");
    return this.pushAction(
      {
        kind: "fetch",
        mnemonic: "Fetch",
        inputs: [],
        outputs: [opts.output.path],
        outputDirs: [],
        url: opts.url,
        integrity,
        executable: opts.executable === true,
        progress: `Fetching ${opts.url}`,
      },
      label,
      decl,
    );
  }

  npmInstall(opts: NpmInstallOptions, label: string, decl: TargetDecl, declared: ReadonlyMap<string, File>): number {
    const bad = (m: string) => new HbError("BAD_ATTRIBUTE", `ctx.actions.npmInstall in ${label}: ${m}`, { location: decl.location });
    if (!opts?.lockfile || typeof opts.lockfile.path !== "string") throw bad("'lockfile' must be a File");
    if (!opts.output?.isDirectory) throw bad("'output' must be a directory (ctx.declareDirectory)");
    this.claimOutputs([opts.output], label, declared, decl.location);
    // the tree is the node_modules of the target's package: which of the lockfile's importers that is
    const lockDir = posix.dirname(
      opts.lockfile.path.startsWith(`${OUT_DIR}/`) ? opts.lockfile.path.slice(OUT_DIR.length + 1) : opts.lockfile.path,
    );
    const pkg = parseLabel(label).pkg;
    const importer =
      lockDir === "." ? pkg : pkg === lockDir ? "" : pkg.startsWith(`${lockDir}/`) ? pkg.slice(lockDir.length + 1) : undefined;
    if (importer === undefined) {
      throw bad(
        `its package //${pkg} is not below the lockfile's directory ${lockDir}/: a lockfile lays out the node_modules of its own directory and those below it`,
      );
    }
    return this.pushAction(
      {
        kind: "npm_install",
        mnemonic: "NpmInstall",
        importer,
        inputs: [opts.lockfile.path],
        outputs: [],
        outputDirs: [opts.output.path],
        progress: `Installing ${opts.lockfile.path} ${label}`,
      },
      label,
      decl,
    );
  }
}

/**
 * Refuses at analysis a command the kernel would refuse at spawn (E2BIG, with no word of which
 * argument), naming the argument that is too long or how long the whole is.
 */
function checkCommandLine(argv: readonly string[], env: Record<string, string>, bad: (message: string, hint: string) => HbError): void {
  const hint = "write the long list to a parameter file (ctx.actions.write) and pass its path, as Bazel's param files do";
  argv.forEach((a, i) => {
    const bytes = Buffer.byteLength(a) + 1;
    if (bytes <= MAX_ARG_BYTES) return;
    const which = i === 0 ? "the executable" : isBashScript(argv) && i === 2 ? "the bash script (arguments[1])" : `arguments[${i - 1}]`;
    throw bad(
      `${which} is ${bytes} bytes, over Linux's limit of ${MAX_ARG_BYTES} for one argument: it would fail to start with E2BIG (it begins ${JSON.stringify(a.slice(0, 60))})`,
      hint,
    );
  });
  const total = [...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].reduce((n, w) => n + commandLineCost(w), 0);
  if (total > MAX_COMMAND_LINE_BYTES) {
    throw bad(
      `its command line and environment are ${total} bytes, over the ${MAX_COMMAND_LINE_BYTES} an action may use of Linux's ARG_MAX: it would fail to start with E2BIG`,
      hint,
    );
  }
}
