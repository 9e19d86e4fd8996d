import { statSync } from "node:fs";
import { EXECROOT } from "../base/action-env";
import type { ActionResult } from "../base/action-result";
import { DISK_FULL_HINT, describeDisk, saysDiskFull } from "../base/disk-full";
import { HbError, type Warning } from "../base/errors";
import type { RunAction } from "../base/graph";
import { describeCommand } from "../api/shell";
import type { LocalCas } from "../caching/local-cas";
import { type ResolvedToolchain, toolchainKey, undeclaredToolError } from "../keying/toolchains";
import { ActionSandbox } from "../sandbox/action-sandbox";
import { type ActionAudit, classifyTraces } from "../sandbox/audit/classify";
import type { InputToStage, SandboxStaging, StagedSandbox } from "../sandbox/sandbox-staging";
import { mergedView } from "../sandbox/merged-view";
import type { Background } from "./background";
import { collectOutputs } from "./collect-outputs";
import type { Job } from "./job";

/** What curl, wget, git, npm and getaddrinfo say when there is no network to reach a host. */
const NO_NETWORK =
  /Could not resolve host|Couldn't resolve host|unable to resolve host address|Temporary failure in name resolution|Name or service not known|Network is unreachable|getaddrinfo (EAI_AGAIN|ENOTFOUND)|Failed to connect to/;

/** stdout and stderr kept with a result, and shown for a failure: their ends */
const OUTPUT_PREVIEW = 8000;

function tail(text: string): string {
  return text.length > OUTPUT_PREVIEW ? `...(${text.length - OUTPUT_PREVIEW} bytes cut)\n${text.slice(-OUTPUT_PREVIEW)}` : text;
}

export interface RunContext {
  root: string;
  cas: LocalCas;
  staging: SandboxStaging;
  sandbox: ActionSandbox;
  background: Background;
  toolchains: ReadonlyMap<string, ResolvedToolchain>;
  /** with `--audit`: strace, found and pinned */
  strace?: ResolvedToolchain;
  epoch: number;
  signal: AbortSignal;
  /** whether nothing more may start (a failure without keep-going, Ctrl-C) */
  stopping(): boolean;
  /** the CAS blob of a generated input, for staging */
  blobOf(path: string, executable: boolean): string | undefined;
  warn(w: Warning): void;
}

/** What running a command gave: its result, whether it may be cached, what the audit saw. */
export interface RunOutcome {
  result?: ActionResult;
  /** false when a source changed while it ran: the result stands for no key */
  cacheable: boolean;
  audit?: ActionAudit;
  interrupted?: boolean;
}

/**
 * Runs `run` actions: lays out the sandbox (ahead of time for an action waiting for a slot, while
 * the running ones run), runs the command, takes the declared outputs into the CAS, and removes
 * the sandbox in the background.
 */
export class RunActions {
  /** actions whose sandboxes were handed to the background to lay out ahead of their run */
  private readonly aheadAsked = new Set<number>();
  /** sandboxes laid out ahead, by action id, until their action takes them */
  private readonly stagedAhead = new Map<number, StagedSandbox>();
  /** actions whose run has begun: nothing is laid out for them ahead any more */
  private readonly begun = new Set<number>();
  /** what the audit saw of actions that failed: reported too */
  readonly failedAudits = new Map<number, ActionAudit>();

  constructor(private readonly ctx: RunContext) {}

  /**
   * An action waiting for a free slot has its sandbox laid out in the background (the main
   * thread idles through every spawn). Not without a sandbox: that tree is the action's working
   * directory on disk.
   */
  stageAhead(job: Job<RunAction>): void {
    if (this.aheadAsked.has(job.id) || job.keyed.mode === "none") return;
    this.aheadAsked.add(job.id);
    this.ctx.background.push(() => {
      if (this.begun.has(job.id) || this.ctx.stopping()) return;
      try {
        this.stagedAhead.set(job.id, this.stage(job));
      } catch {
        // laid out again at its turn, which reports the same, naming the action
      }
    });
  }

  /** Sandboxes laid out ahead for actions that never ran (the build stopped). */
  discardAhead(): void {
    for (const staged of this.stagedAhead.values()) this.ctx.staging.discard(staged);
    this.stagedAhead.clear();
  }

  async run(job: Job<RunAction>): Promise<RunOutcome> {
    const { action: a, keyed, writableAt } = job;
    const { mode, material } = keyed;
    const started = Date.now();
    this.begun.add(job.id);
    let staged = this.stagedAhead.get(job.id);
    this.stagedAhead.delete(job.id);
    try {
      staged ??= this.stage(job);
      // stopped while its sandbox was laid out: a process spawned now would not see the signal
      if (job.signal.aborted) return { cacheable: false, interrupted: true };
      const traceDir = this.ctx.strace ? ActionSandbox.traceDir(staged) : undefined;
      const toolchains = a.toolchains.map((t) => this.ctx.toolchains.get(toolchainKey(t))!);
      const run = await this.ctx.sandbox.run({
        argv: a.argv,
        env: material.env,
        mode,
        staged,
        writableAt,
        mounts: toolchains.flatMap((t) => t.mounts),
        dirBinds: keyed.dirBinds,
        audit: traceDir && this.ctx.strace ? { strace: this.ctx.strace.hostPath, mounts: this.ctx.strace.mounts, traceDir } : undefined,
        signal: job.signal,
        timeoutMs: a.timeout !== undefined ? a.timeout * 1000 : undefined,
      });
      const execroot = mode === "none" ? staged.rootDir : EXECROOT;
      const audit = traceDir
        ? classifyTraces(
            {
              execroot,
              files: [...keyed.files, ...staged.merged.files],
              toolchainFiles: toolchains.flatMap((t) => [t.hostPath, ...t.mounts]),
              declaredDirs: [
                ...keyed.dirBinds.map((d) => `${execroot}/${d.path}`),
                ...toolchains.filter((t) => t.isDirectory).map((t) => t.hostPath),
              ],
              scratch: [
                `${execroot}/${writableAt}`,
                ...staged.merged.dirs.map((d) => `${execroot}/${d.path}`),
                ...staged.merged.links.map((l) => `${execroot}/${l.path}`),
                material.env.TMPDIR!,
                material.env.HOME!,
              ],
            },
            traceDir,
          )
        : undefined;
      if (run.canceled || job.signal.aborted || this.ctx.signal.aborted) return { cacheable: false, interrupted: true };
      if (run.spawnError !== undefined) throw new HbError("SANDBOX_FAILED", `${a.owner}: could not start ${a.argv[0]}: ${run.spawnError}`);
      if (run.exitCode !== 0) {
        if (audit) this.failedAudits.set(job.id, audit);
        const undeclared = mode === "strict" ? undeclaredToolError(a.owner, run.stderr, describeCommand(a)) : undefined;
        if (undeclared) throw undeclared;
        const how = run.timedOut
          ? `timed out after ${a.timeout} s and was killed with its process group`
          : run.signal
            ? `was killed by ${run.signal}`
            : `exited with code ${run.exitCode}`;
        // not the action's fault: the machine's, and the user must know which disk
        if (saysDiskFull(`${run.stderr}\n${run.stdout}`)) {
          const disk = describeDisk(staged.outDir);
          throw HbError.of(
            "DISK_FULL",
            `${a.owner}: ${a.mnemonic} ${how}: ${disk} is full, where its outputs are written`,
            {
              disk,
              path: staged.outDir,
              label: a.owner,
              command: describeCommand(a),
              stderrTail: tail(run.stderr),
              stdoutTail: tail(run.stdout),
            },
            { hint: DISK_FULL_HINT },
          );
        }
        // the usual first failure in a sandbox: a file of the workspace read but never declared
        const missingFile = mode !== "none" && /No such file or directory/.test(run.stderr);
        // the second: a download (curl, wget, npm, git), where the sandbox has no network
        const noNetwork = mode !== "none" && NO_NETWORK.test(run.stderr);
        throw HbError.of(
          "ACTION_FAILED",
          `${a.owner}: ${a.mnemonic} ${how}`,
          {
            label: a.owner,
            mnemonic: a.mnemonic,
            command: describeCommand(a),
            exitCode: run.exitCode ?? null,
            signal: run.signal ?? null,
            stderrTail: tail(run.stderr),
            stdoutTail: tail(run.stdout),
            sandboxMissingFile: missingFile,
            ...(run.timedOut ? { timedOutAfter: a.timeout } : {}),
          },
          run.timedOut
            ? { hint: `raise the target's timeout (seconds) if it needs longer, or find what it waits for` }
            : noNetwork
              ? {
                  hint: "actions have no network: download before the build with http_file({ url, sha256 }) (or ctx.actions.fetch in a rule), npm packages with npm_deps, and use the file as an input",
                }
              : missingFile
                ? {
                    hint: "the sandbox holds only declared inputs: a file the command reads must be in srcs (or tools), or come from a dependency",
                  }
                : {},
        );
      }
      const files = collectOutputs(a, staged.outDir, writableAt, this.ctx.cas, this.ctx.epoch);
      const changed = changedSources(keyed.sourceStats);
      if (changed.length > 0) {
        this.ctx.warn({ code: "SOURCE_CHANGED", label: a.owner, paths: changed.map((c) => c.slice(this.ctx.root.length + 1)) });
      }
      const result: ActionResult = {
        files,
        dirs: [...a.outputDirs],
        exitCode: 0,
        stdout: tail(run.stdout),
        stderr: tail(run.stderr),
        executedAtMs: started,
        durationMs: Date.now() - started,
        sandbox: mode,
      };
      return { result, cacheable: changed.length === 0, audit };
    } finally {
      const used = staged;
      if (used) this.ctx.background.push(() => this.ctx.staging.discard(used));
    }
  }

  /** Lays out the sandbox: its inputs staged (generated ones from their CAS blobs), its outputs directory empty. */
  private stage(job: Job<RunAction>): StagedSandbox {
    const { action: a, keyed, writableAt } = job;
    const inputs: InputToStage[] = keyed.files.map((f) => {
      if (f.isSource || f.symlink !== undefined) return f;
      const blob = this.ctx.blobOf(f.path, f.executable);
      if (!blob)
        throw new HbError(
          "MISSING_INPUT",
          `the cached content of ${f.path} (input of ${a.owner}) vanished during the build; run the build again`,
        );
      return { ...f, source: blob };
    });
    const outDirs = new Set<string>();
    for (const o of a.outputs) {
      const rel = o.slice(writableAt.length + 1);
      if (rel.includes("/")) outDirs.add(rel.slice(0, rel.lastIndexOf("/")));
    }
    for (const d of a.outputDirs) outDirs.add(d.slice(writableAt.length + 1));
    const merged = mergedView(a.owner, inputs, writableAt, a.outputs, a.outputDirs, keyed.dirBinds);
    return this.ctx.staging.stage(job.stageName, inputs, writableAt, [...outDirs], keyed.mode === "none", keyed.dirBinds, merged);
  }
}

/** Sources whose stats moved since they were keyed: edited while the action ran. */
function changedSources(before: ReadonlyMap<string, import("node:fs").Stats>): string[] {
  const changed: string[] = [];
  for (const [abs, was] of before) {
    const now = statSync(abs, { throwIfNoEntry: false });
    if (!now || now.size !== was.size || now.mtimeMs !== was.mtimeMs || now.ctimeMs !== was.ctimeMs || now.ino !== was.ino)
      changed.push(abs);
  }
  return changed;
}
