import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_DIR, EXECROOT, type SandboxMode } from "../base/action-env";
import { HbError } from "../base/errors";
import type { ActionSpec, ExecPath } from "../base/graph";
import { type SpawnResult, spawnProcess } from "../base/process";
import { straceArgv } from "./audit/strace";
import { bindPaths, bwrapArgs, findBwrap, strictBinds, systemBinds, writeSandboxEtc } from "./bwrap";
import type { StagedSandbox } from "./sandbox-staging";

/**
 * How an action runs: in the build's mode, or unsandboxed when tagged no-sandbox and the command
 * line allows it (BUILD.ts files come with every change, a pull request's too).
 */
export function actionSandboxMode(a: ActionSpec, buildMode: SandboxMode, allowUnsandboxed: boolean): SandboxMode {
  if (!a.tags.includes("no-sandbox") || buildMode === "none") return buildMode;
  if (!allowUnsandboxed) {
    throw HbError.of(
      "SANDBOX_REQUIRED",
      `${a.owner} is tagged no-sandbox: it would run unsandboxed, seeing all this machine shows its user (.git/config, keys, tokens)`,
      { label: a.owner },
      {
        hint: "allow it for this build with --allow-unsandboxed (never for an untrusted change, such as a pull request's), or drop the tag",
      },
    );
  }
  return "none";
}

/** One run of a command in its laid-out sandbox. */
export interface SandboxedRun {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  mode: SandboxMode;
  staged: StagedSandbox;
  /** where its outputs directory is bound, relative to the execroot */
  writableAt: ExecPath;
  /** host files bound read-only at their own path: its toolchains and what they load */
  mounts: readonly string[];
  /** workspace directories (pinned toolchains) bound read-only into the execroot whole */
  dirBinds: readonly { path: ExecPath; source: string }[];
  /** with `--audit`: strace, the files it needs bound, and where it writes its traces */
  audit?: { strace: string; mounts: readonly string[]; traceDir: string };
  signal: AbortSignal;
  /** the action's time limit, if it has one */
  timeoutMs?: number;
}

/**
 * Runs an action's command under bwrap (docs/ARCHITECTURE.md,
 * Sandbox): the staged inputs read-only at the fixed execroot, its outputs directory writable
 * inside it, system directories (default) or only its toolchains (strict), no network, no host
 * env, no capabilities. With `mode: "none"`, the command runs in the staged tree on this machine.
 */
export class ActionSandbox {
  private etcReady = false;

  constructor(
    /** where the fixed /etc files every sandbox shows are kept (in the output base) */
    private readonly etcDir: string,
  ) {}

  run(r: SandboxedRun): Promise<SpawnResult> {
    const unsandboxed = r.mode === "none";
    const argv = r.audit ? straceArgv(r.audit.strace, unsandboxed ? r.audit.traceDir : AUDIT_DIR, r.argv) : [...r.argv];
    if (unsandboxed) {
      mkdirSync(r.env.HOME!, { recursive: true });
      mkdirSync(r.env.TMPDIR!, { recursive: true });
      return spawnProcess(argv[0]!, argv.slice(1), { cwd: r.staged.rootDir, env: r.env, signal: r.signal, timeoutMs: r.timeoutMs });
    }
    if (!this.etcReady) {
      writeSandboxEtc(this.etcDir);
      this.etcReady = true;
    }
    const mounts = [...r.mounts, ...(r.audit && r.mode === "strict" ? r.audit.mounts : [])];
    const systemMounts = r.mode === "strict" ? strictBinds(mounts) : [...systemBinds(), ...bindPaths(mounts)];
    const args = bwrapArgs({
      execroot: r.staged.rootDir,
      outDir: r.staged.outDir,
      writableAt: r.writableAt,
      env: r.env,
      etcDir: this.etcDir,
      network: false,
      systemMounts,
    });
    for (const d of r.dirBinds) args.push("--ro-bind", d.source, `${EXECROOT}/${d.path}`);
    // the merged view: the action's own output directories at their package paths too
    for (const b of r.staged.outputBinds) args.push("--bind", b.source, `${EXECROOT}/${b.path}`);
    if (r.audit) args.push("--bind", r.audit.traceDir, AUDIT_DIR);
    // a time limit kills bwrap's group: its sandbox's pid 1 dies with it (--die-with-parent), and
    // with pid 1 every process of the sandbox
    return spawnProcess(findBwrap(), [...args, "--", ...argv], { env: {}, signal: r.signal, diesWithParent: true, timeoutMs: r.timeoutMs });
  }

  /** The directory an audited run writes its traces to, made in its sandbox. */
  static traceDir(staged: StagedSandbox): string {
    const dir = join(staged.sandboxDir, "audit");
    mkdirSync(dir, { recursive: true });
    return dir;
  }
}
