import { type Stats, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, posix } from "node:path";
import type { ActionResult, OutputFile } from "../caching/action-cache";
import { type ActionKeyMaterial, type KeyedFile, actionKey } from "../keying/action-key";
import { type ActionGraph, type ActionSpec, type ExecPath, OUT_DIR } from "../base/graph";
import { GENRULE_SHELL, GENRULE_SHELL_SETUP } from "../api/shell";
import type { CacheIncident } from "../caching/local-cas";
import { HbError } from "../base/errors";
import { digestOfFile, sha256Hex } from "../base/digest";
import { parseLabel } from "../base/label";
import { joinRel } from "../loading/package-tree";
import { bindPaths, bwrapArgs, findBwrap, strictBinds, systemBinds, writeSandboxEtc } from "../sandbox/bwrap";
import { AUDIT_DIR, EXECROOT, SANDBOX_HOME } from "../base/action-env";
import { hostFingerprint } from "../keying/host-fingerprint";
import { spawnProcess } from "../base/process";
import type { OutputBase } from "../caching/output-base";
import type { NpmConfig, SandboxMode } from "../workspace/config";
import { type Forbidden, sourceRefusal } from "../workspace/source-policy";
import { FetchStore, runFetchStep } from "../fetch/fetch-step";
import { installPackages, symlinkEntry } from "../fetch/npm-install";
import type { RemoteCache } from "../caching/remote/remote-cache";
import { fetchRequests, lockfilePackages, npmPolicy } from "../fetch/requests";
import { actionsNeededBy, producers } from "./action-closure";
import { type StampInfo, keyMaterial } from "../keying/key-material";
import { type InputToStage, SandboxStaging, type StagedSandbox } from "../sandbox/sandbox-staging";
import { type ResolvedToolchain, findStrace, resolveToolchains, toolchainKey, treeDigest, undeclaredToolError } from "../keying/toolchains";
import { alwaysAllowed } from "../sandbox/audit/allowed";
import { absoluteTarget, readTraces, straceArgv } from "../sandbox/audit/strace";
import { type OutputFacts, Materializer } from "./materialize";

export type ActionStatus = "executed" | "cached" | "failed" | "skipped" | "interrupted";

/** What `--audit` saw an action do outside its declared inputs, outputs and toolchains. */
export interface ActionAudit {
  /** files opened or attempted (a failed open of a hidden path counts too) */
  reads: string[];
  /** AF_INET/AF_INET6 addresses connected to or attempted */
  connects: string[];
}

export interface ActionOutcome {
  action: ActionSpec;
  status: ActionStatus;
  /** a cache hit from the remote cache: the instance it came from and the key that signed it */
  remote?: { instance: string; keyId: string };
  /** with `audit`: what the action reached outside its declarations */
  audit?: ActionAudit;
  key?: string;
  /** what the key was computed from: inputs, tools and env (verify and provenance read it) */
  material?: ActionKeyMaterial;
  result?: ActionResult;
  error?: HbError;
  durationMs: number;
}

export interface BuildEvents {
  /** how many actions the targets need (before any cache check) */
  planned?(actions: number): void;
  actionStarted?(action: ActionSpec): void;
  /** the fetch step downloads `url` */
  fetching?(url: string): void;
  actionFinished?(outcome: ActionOutcome): void;
  /** an executed action whose outputs could not be put under hb-out/: its outcome is now failed */
  outputsFailed?(outcome: ActionOutcome): void;
  warning?(message: string): void;
}

export interface ExecuteOptions {
  root: string;
  base: OutputBase;
  graph: ActionGraph;
  /** labels whose default outputs (and runfiles) are wanted */
  targets: readonly string[];
  /** more outputs wanted beyond the targets' defaults (hb test: the test logs) */
  extraOutputs?: readonly ExecPath[];
  mode: SandboxMode;
  sourceDateEpoch: number;
  stamp?: StampInfo;
  jobs: number;
  keepGoing: boolean;
  signal: AbortSignal;
  events?: BuildEvents;
  /** look up the action cache (default true); `hb verify` turns it off */
  useCache?: boolean;
  /** materialize outputs under hb-out/ (default true) */
  materialize?: boolean;
  /** stage inputs in reverse order, so a directory lists its entries in another order (`hb verify`) */
  reverseStaging?: boolean;
  /** run every action under strace and report what it reaches outside its declarations (implies no cache) */
  audit?: boolean;
  /** the fetch step may download what is not fetched yet (default true); false: offline */
  network?: boolean;
  /** how npm_install actions resolve lockfiles */
  npm?: NpmConfig;
  /** the team cache: read on a local miss, written after a sandboxed execution when it allows */
  remote?: RemoteCache;
  /** files no action may see besides hb's state (signing keys), absolute */
  hidden?: readonly string[];
  /** run actions tagged no-sandbox unsandboxed (a command-line decision: BUILD.ts files come with every change) */
  allowUnsandboxed?: boolean;
}

export interface ExecutionResult {
  /** one per action the targets need, in completion order */
  outcomes: ActionOutcome[];
  /** every generated file the build knows the digest of */
  outputs: Map<ExecPath, OutputFile>;
  interrupted: boolean;
  incidents: CacheIncident[];
  /** what was materialized for every output of the needed actions */
  materialized?: OutputFacts[];
}

interface Prepared {
  action: ActionSpec;
  key: string;
  material: ActionKeyMaterial;
  mode: SandboxMode;
  /** the sandbox's name: stable per action */
  stageName: string;
  /** what is staged: sources (by workspace path) and generated files (resolved to CAS blobs at staging) */
  files: InputToStage[];
  /** workspace directories (pinned toolchains) bound read-only into the execroot whole */
  dirBinds: { path: ExecPath; source: string }[];
  /** stats of source inputs before the run, to notice edits made while it runs */
  sourceStats: Map<string, Stats>;
  writableAt: ExecPath;
  cacheable: boolean;
}

const OUTPUT_PREVIEW = 8000;
/** remote cache lookups under way at once */
const REMOTE_LOOKUPS = 8;

/** an argument (or a line of a genrule's cmd) longer than this is shown cut */
const ARG_PREVIEW = 300;

function cut(text: string): string {
  return text.length > ARG_PREVIEW ? `${text.slice(0, ARG_PREVIEW - 60)}...(${text.length - ARG_PREVIEW + 60} more characters)` : text;
}

/**
 * Shows the command a user wrote: a genrule's `cmd`, or the argv, shell-quoted. Failures print it
 * in CI logs anyone may read, so a long argument (a generated list, an embedded blob) is cut.
 */
export function describeCommand(a: ActionSpec): string {
  if (a.kind === "write") return `(write ${a.outputs[0]})`;
  if (a.argv[0] === GENRULE_SHELL && a.argv[1] === "-c" && a.argv.length === 3) {
    const cmd = a.argv[2]!.startsWith(GENRULE_SHELL_SETUP) ? a.argv[2]!.slice(GENRULE_SHELL_SETUP.length) : a.argv[2]!;
    return cmd.split("\n").map(cut).join("\n");
  }
  return a.argv.map((x) => cut(/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(" ");
}

function pkgOf(label: string): string {
  return parseLabel(label).pkg;
}

function tail(text: string): string {
  return text.length > OUTPUT_PREVIEW ? `...(${text.length - OUTPUT_PREVIEW} bytes cut)\n${text.slice(-OUTPUT_PREVIEW)}` : text;
}

function indent(text: string): string {
  return text.replace(/\n$/, "").split("\n").map((l) => `  | ${l}`).join("\n");
}

/**
 * Runs the actions the targets need, each as soon as the actions producing its inputs are
 * done: a cache check first (inputs by digest, so an upstream re-run that produced the same
 * bytes leaves everything downstream cached), then, on a miss, a sandboxed execution.
 */
export async function executeActions(opts: ExecuteOptions): Promise<ExecutionResult> {
  return new Executor(opts).run();
}

class Executor {
  private readonly graph: ActionGraph;
  private readonly producer: Map<ExecPath, number>;
  private readonly outputs = new Map<ExecPath, OutputFile>();
  private readonly treeFiles = new Map<ExecPath, OutputFile[]>();
  private readonly outcomes: ActionOutcome[] = [];
  private readonly materializer: Materializer | undefined;
  private hostPrint: string | undefined;
  private etcReady = false;
  private readonly staging: SandboxStaging;
  private readonly background: (() => void)[] = [];
  private backgroundScheduled = false;
  /** actions whose sandboxes were handed to the background to lay out ahead of their run */
  private readonly aheadAsked = new Set<number>();
  /** sandboxes laid out ahead, by action id, until their action takes them */
  private readonly stagedAhead = new Map<number, StagedSandbox>();
  /** actions whose execution has begun: nothing is laid out for them ahead any more */
  private readonly begun = new Set<number>();
  private backgroundError: HbError | undefined;
  /** executed actions whose outputs could not be materialized, by action id */
  private readonly notMaterialized = new Map<number, HbError>();
  private readonly uploads: Promise<void>[] = [];
  private strace: ResolvedToolchain | undefined;
  /** audits of actions that failed: reported too */
  private readonly failedAudits = new Map<number, ActionAudit>();
  private toolchains = new Map<string, ResolvedToolchain>();
  private halted = false;

  /** what no action may see, resolved once per build */
  private readonly forbidden: Forbidden;
  /** real paths of the source directories staged so far */
  private readonly realDirs = new Map<string, string>();

  constructor(private readonly opts: ExecuteOptions) {
    const real = (p: string) => (existsSync(p) ? realpathSync.native(p) : p);
    this.forbidden = { realRoot: real(opts.root), hidden: [real(opts.base.dir), ...(opts.hidden ?? []).map(real)] };
    this.graph = opts.graph;
    this.producer = producers(opts.graph);
    this.staging = new SandboxStaging({ fallback: opts.base.sandboxDir, epoch: opts.sourceDateEpoch, reverse: opts.reverseStaging === true });
    if (opts.materialize !== false) this.materializer = new Materializer(opts.root, opts.base.cas, opts.base.db);
  }

  async run(): Promise<ExecutionResult> {
    // DESIGN.md, Determinism: every action runs with umask 022 (bwrap and children inherit it)
    process.umask(0o022);
    const ids = actionsNeededBy(this.graph, this.opts.targets, this.producer, this.opts.extraOutputs);
    this.materializer?.prepareDirs(ids.flatMap((id) => this.graph.actions[id]!.outputs));
    const strict = this.opts.mode === "strict";
    this.toolchains = await resolveToolchains(ids.flatMap((id) => this.graph.actions[id]!.toolchains), this.opts.root, this.opts.base.stats, strict, this.forbidden);
    if (this.opts.audit) this.strace = await findStrace(this.opts.base.stats, strict, this.forbidden);
    await this.fetchStep(ids.map((id) => this.graph.actions[id]!));
    return this.schedule(ids);
  }

  /**
   * Before any action runs: every external input the actions need is fetched (or already is),
   * and every lockfile is checked; an unpinned or tampered entry stops the build here.
   */
  private async fetchStep(actions: ActionSpec[]): Promise<void> {
    const requests = fetchRequests(actions, this.opts.root, npmPolicy(this.opts.npm));
    if (requests.length === 0) return;
    await runFetchStep(requests, this.opts.base, {
      network: this.opts.network !== false,
      signal: this.opts.signal,
      epoch: this.opts.sourceDateEpoch,
      onFetch: (url) => this.opts.events?.fetching?.(url),
    });
  }

  private schedule(ids: number[]): Promise<ExecutionResult> {
    const base = this.opts.base;
    base.beginWrites();
    const committer = setInterval(() => {
      base.commitWrites();
      base.beginWrites();
    }, 250);
    this.opts.events?.planned?.(ids.length);
    const remaining = new Map<number, number>();
    const dependents = new Map<number, number[]>();
    const ready: number[] = [];
    for (const id of ids) {
      const a = this.graph.actions[id]!;
      const deps = new Set<number>();
      for (const p of [...a.inputs, ...a.tools]) {
        const d = this.producer.get(p);
        if (d !== undefined) deps.add(d);
      }
      remaining.set(id, deps.size);
      for (const d of deps) {
        if (!dependents.has(d)) dependents.set(d, []);
        dependents.get(d)!.push(id);
      }
      if (deps.size === 0) ready.push(id);
    }
    const finished = new Set<number>();
    const execQueue: Prepared[] = [];
    const remoteQueue: Prepared[] = [];
    let running = 0;
    let remoteRunning = 0;
    const { signal, jobs } = this.opts;

    return new Promise<ExecutionResult>((resolve) => {
      const complete = (o: ActionOutcome) => {
        if (finished.has(o.action.id)) return;
        finished.add(o.action.id);
        this.outcomes.push(o);
        this.opts.events?.actionFinished?.(o);
        if (o.status === "executed" || o.status === "cached") {
          for (const d of dependents.get(o.action.id) ?? []) {
            const left = remaining.get(d)! - 1;
            remaining.set(d, left);
            if (left === 0) ready.push(d);
          }
        } else if (o.status === "failed") {
          if (!this.opts.keepGoing) this.halted = true;
          // what it and everything downstream made before no longer stands for their inputs (a
          // test's passing log); an interrupted build keeps them
          const stale = (a: ActionSpec) => {
            if (signal.aborted) return;
            try {
              this.materializer?.removeStale([...a.outputs, ...a.outputDirs]);
            } catch (e) {
              // the build fails already; what stays in hb-out/ is named so it is not taken for this build's
              this.opts.events?.warning?.(asHbError(e, a).message);
            }
          };
          stale(o.action);
          const stack = [...(dependents.get(o.action.id) ?? [])];
          while (stack.length > 0) {
            const d = stack.pop()!;
            if (finished.has(d)) continue;
            stale(this.graph.actions[d]!);
            complete({ action: this.graph.actions[d]!, status: "skipped", durationMs: 0 });
            stack.push(...(dependents.get(d) ?? []));
          }
        }
      };
      const settle = () => {
        const stopped = this.halted || signal.aborted;
        if (running > 0 || remoteRunning > 0) return;
        if (!stopped && (ready.length > 0 || execQueue.length > 0 || remoteQueue.length > 0)) return;
        for (const id of ids) {
          if (!finished.has(id)) {
            complete({ action: this.graph.actions[id]!, status: signal.aborted ? "interrupted" : "skipped", durationMs: 0 });
          }
        }
        this.finishBackground();
        this.failUnmaterialized();
        this.discardStagedAhead();
        if (this.backgroundError) this.opts.events?.warning?.(this.backgroundError.message);
        this.recheckToolchains();
        void Promise.all([this.staging.close(), this.materializer?.stopAhead(), ...this.uploads]).then(() => {
          clearInterval(committer);
          this.materializer?.flush();
          this.opts.base.stats.flush();
          base.commitWrites();
          resolve({
            outcomes: this.outcomes,
            outputs: this.outputs,
            interrupted: signal.aborted,
            incidents: this.opts.base.cas.incidents,
            materialized: this.materializer?.recorded(this.outputs.keys()),
          });
        });
      };
      const drain = () => {
        while (ready.length > 0 && !this.halted && !signal.aborted) {
          const id = ready.shift()!;
          const prepared = this.prepare(this.graph.actions[id]!);
          if ("status" in prepared) complete(prepared);
          else if (this.opts.remote && prepared.cacheable && prepared.action.kind === "run") remoteQueue.push(prepared);
          else execQueue.push(prepared);
        }
        // a local miss asks the team cache first, a few at a time (network waits, not CPU)
        while (remoteQueue.length > 0 && remoteRunning < REMOTE_LOOKUPS && !this.halted && !signal.aborted) {
          const job = remoteQueue.shift()!;
          remoteRunning++;
          this.fromRemote(job).then(
            (o) => {
              remoteRunning--;
              if (o) complete(o);
              else execQueue.push(job);
              drain();
            },
            () => {
              remoteRunning--;
              execQueue.push(job);
              drain();
            },
          );
        }
        while (execQueue.length > 0 && running < jobs && !this.halted && !signal.aborted) {
          const job = execQueue.shift()!;
          running++;
          const started = Date.now();
          this.opts.events?.actionStarted?.(job.action);
          this.execute(job).then(
            (o) => {
              running--;
              complete(o);
              drain();
            },
            (e: unknown) => {
              running--;
              complete({ action: job.action, status: "failed", error: asHbError(e, job.action), audit: this.failedAudits.get(job.action.id), durationMs: Date.now() - started });
              drain();
            },
          );
        }
        for (const job of execQueue.slice(0, jobs)) this.stageAhead(job);
        settle();
      };
      signal.addEventListener("abort", () => setImmediate(settle), { once: true });
      drain();
    });
  }

  /**
   * A toolchain is read live by the actions that use it (bound from the host or the workspace): if
   * it changed while the build ran, their results may come from the new bytes under the old key.
   * They are taken out of the action cache, and the build says so.
   */
  private recheckToolchains(): void {
    for (const [key, t] of this.toolchains) {
      if (t.error) continue;
      const users = this.outcomes.filter((o) => o.status === "executed" && o.key && o.action.toolchains.some((r) => toolchainKey(r) === key));
      if (users.length === 0) continue;
      let now: string | undefined;
      try {
        now = (t.isDirectory ? treeDigest(t.hostPath, this.opts.base.stats) : this.opts.base.stats.digest(t.hostPath)).digest.hash;
      } catch {
        now = undefined;
      }
      if (now === t.keyed.hash) continue;
      for (const o of users) this.opts.base.ac.delete(o.key!);
      const uploaded = this.uploads.length > 0 ? " here (an upload to the remote cache may have gone out already)" : "";
      this.opts.events?.warning?.(
        `${t.ref.path} changed while the build ran: the results of ${users.map((o) => o.action.owner).join(", ")} are not cached${uploaded}; the next build keys them by it as it is then`,
      );
    }
  }

  private keyedFile(path: ExecPath, action: ActionSpec, files: Prepared["files"], stats: Map<string, Stats>): KeyedFile[] {
    if (path.startsWith(OUT_DIR + "/")) {
      const f = this.outputs.get(path);
      if (f) {
        files.push({ path, source: "", hash: f.hash, isSource: false, executable: f.executable });
        return [{ path, hash: f.hash, size: f.size, executable: f.executable }];
      }
      const tree = this.treeFiles.get(path);
      if (tree) {
        for (const t of tree) files.push({ path: t.path, source: "", hash: t.hash, isSource: false, executable: t.executable, symlink: t.symlink });
        return tree.map((t) => ({ path: t.path, hash: t.hash, size: t.size, executable: t.executable }));
      }
      throw new HbError("INTERNAL", `no digest for generated input ${path} of ${action.owner}`);
    }
    const abs = join(this.opts.root, path);
    let r;
    try {
      r = this.opts.base.stats.digest(abs);
    } catch {
      throw new HbError("MISSING_INPUT", `missing input file '${path}', needed by ${action.owner}`, {
        hint: "restore the file, or remove it from the target's attributes",
      });
    }
    if (!r.stats.isFile()) {
      throw new HbError("MISSING_INPUT", `input '${path}' of ${action.owner} is not a regular file`);
    }
    // the analysis that named it ran a pull request's code, and a symlink may have moved since
    const refused = sourceRefusal(this.realPathOf(abs), this.forbidden);
    if (refused) throw new HbError("FORBIDDEN_INPUT", `input '${path}' of ${action.owner} cannot be staged: ${refused}`);
    stats.set(abs, r.stats);
    const executable = (r.stats.mode & 0o111) !== 0;
    files.push({ path, source: abs, hash: r.digest.hash, isSource: true, executable });
    return [{ path, hash: r.digest.hash, size: r.digest.size, executable }];
  }

  /** The real path of a source: its directory's, resolved once per build, and the file's own link. */
  private realPathOf(abs: string): string {
    if (lstatSync(abs).isSymbolicLink()) return realpathSync.native(abs);
    const dir = dirname(abs);
    let realDir = this.realDirs.get(dir);
    if (realDir === undefined) this.realDirs.set(dir, (realDir = realpathSync.native(dir)));
    return join(realDir, basename(abs));
  }

  private host(): string {
    this.hostPrint ??= hostFingerprint(this.opts.base.stats);
    return this.hostPrint;
  }

  private prepare(a: ActionSpec): Prepared | ActionOutcome {
    const started = Date.now();
    try {
      const mode: SandboxMode = a.tags.includes("no-sandbox") ? "none" : this.opts.mode;
      if (mode === "none" && this.opts.mode !== "none" && !this.opts.allowUnsandboxed) {
        throw new HbError("SANDBOX_REQUIRED", `${a.owner} is tagged no-sandbox: it would run unsandboxed, seeing all this machine shows its user (.git/config, keys, tokens)`, {
          hint: "allow it for this build with --allow-unsandboxed (never for an untrusted change, such as a pull request's), or drop the tag",
        });
      }
      const stageName = sha256Hex(a.outputs[0] ?? a.outputDirs[0] ?? String(a.id)).slice(0, 16);
      const sandboxDir = this.staging.dirFor(stageName, mode === "none");
      const files: Prepared["files"] = [];
      const sourceStats = new Map<string, Stats>();
      const inputs = a.inputs.flatMap((p) => this.keyedFile(p, a, files, sourceStats));
      const tools = a.tools.flatMap((p) => this.keyedFile(p, a, files, sourceStats));
      const toolchains: KeyedFile[] = [];
      const dirBinds: Prepared["dirBinds"] = [];
      for (const ref of a.toolchains) {
        const t = this.toolchains.get(toolchainKey(ref))!;
        if (t.error) throw t.error;
        toolchains.push(t.keyed);
        // a workspace-relative toolchain is part of the workspace: a file is staged like a tool, a
        // directory bound into the execroot whole
        if (!ref.path.startsWith("/")) {
          if (t.isDirectory) dirBinds.push({ path: ref.path, source: t.hostPath });
          else files.push({ path: ref.path, source: t.hostPath, hash: t.keyed.hash, isSource: true, executable: t.keyed.executable });
        }
      }
      const material = keyMaterial(a, inputs, tools, toolchains, {
        mode,
        sourceDateEpoch: this.opts.sourceDateEpoch,
        stamp: this.opts.stamp,
        execroot: mode === "none" ? join(sandboxDir, "root") : EXECROOT,
        home: mode === "none" ? join(sandboxDir, "home") : SANDBOX_HOME,
        tmpdir: mode === "none" ? join(sandboxDir, "tmp") : "/tmp",
        hostFingerprint: () => this.host(),
        npm: a.kind === "npm_install" ? npmPolicy(this.opts.npm) : undefined,
      });
      const key = actionKey(material);
      const cacheable = this.opts.useCache !== false && !this.opts.audit && !a.tags.includes("no-cache");
      if (cacheable) {
        const hit = this.opts.base.ac.get(key);
        if (hit && this.adopt(hit, a.owner)) return { action: a, status: "cached", key, material, result: hit, durationMs: Date.now() - started };
      }
      return { action: a, key, material, mode, stageName, files, dirBinds, sourceStats, writableAt: joinRel(OUT_DIR, pkgOf(a.owner)), cacheable };
    } catch (e) {
      return { action: a, status: "failed", error: asHbError(e, a), durationMs: Date.now() - started };
    }
  }

  /** A verified hit from the team cache, stored locally and materialized; undefined for a miss. */
  private async fromRemote(p: Prepared): Promise<ActionOutcome | undefined> {
    const started = Date.now();
    const hit = await this.opts.remote!.lookup(p.action, p.key, this.opts.base.cas, this.opts.sourceDateEpoch);
    if (!hit || !this.adopt(hit.result, p.action.owner)) return undefined;
    this.opts.base.ac.put(p.key, hit.result);
    this.describe(p, hit.result, `remote:${hit.instance || "(no instance)"}:${hit.keyId.slice(0, 16)}`);
    return { action: p.action, status: "cached", key: p.key, material: p.material, result: hit.result, remote: { instance: hit.instance, keyId: hit.keyId }, durationMs: Date.now() - started };
  }

  /** Stores a fresh result in the action cache (when it may be cached) and how it was made (for hb explain). */
  private record(p: Prepared, result: ActionResult, cache: boolean): void {
    if (cache && p.cacheable) {
      this.opts.base.ac.put(p.key, result);
      // only sandboxed, successful, network-free results go to the team cache
      if (this.opts.remote && p.action.kind === "run" && p.mode !== "none") this.uploads.push(this.opts.remote.upload(p.action, p.key, result, this.opts.base.cas));
    }
    // in the same write batch as the entry: a crash never keeps an entry without its description
    this.describe(p, result, `local:${hostname()}`);
  }

  private describe(p: Prepared, result: ActionResult, builder: string): void {
    const m = p.material;
    this.opts.base.ac.describe(
      p.key,
      {
        owner: p.action.owner,
        mnemonic: p.action.mnemonic,
        kind: p.action.kind,
        argv: [...m.argv],
        env: { ...m.env },
        inputs: [...m.inputs],
        tools: [...m.tools],
        toolchains: [...m.toolchains],
        sandbox: p.mode,
        executedAtMs: result.executedAtMs,
        durationMs: result.durationMs,
        builder,
      },
      result.files,
    );
  }

  /** Takes a result's outputs as this build's: their blobs must all be there (and materialized). */
  private adopt(result: ActionResult, owner: string): boolean {
    if (this.materializer) {
      let lost;
      try {
        lost = this.materializer.materialize(result);
      } catch (e) {
        if (e instanceof HbError) throw new HbError(e.code, `${owner}: ${e.message}`, { hint: e.hint });
        throw e;
      }
      if (lost !== undefined) return false;
    } else if (result.files.some((f) => f.symlink === undefined && !(f.executable ? this.opts.base.cas.getExecutable(f) : this.opts.base.cas.get(f)))) {
      return false;
    }
    this.register(result);
    return true;
  }

  /** The outputs' digests, for the actions that read them. */
  private register(result: ActionResult): void {
    for (const d of result.dirs) this.treeFiles.set(d, result.files.filter((f) => f.path.startsWith(d + "/")));
    for (const f of result.files) this.outputs.set(f.path, f);
  }

  /**
   * Takes a fresh result's outputs as this build's. Its blobs were just written, so putting them
   * under hb-out/ cannot miss: that is queued as background work, and the actions waiting for
   * these outputs (which read the CAS, not hb-out/) start at once.
   */
  private adoptFresh(action: ActionSpec, result: ActionResult): void {
    this.register(result);
    const materializer = this.materializer;
    if (!materializer) return;
    this.background.push(() => {
      try {
        const lost = materializer.materialize(result);
        if (lost !== undefined) throw new HbError("INTERNAL", `the CAS lost ${lost} before it was materialized`);
      } catch (e) {
        // the action ran and its result is cached, but hb-out/ does not show it: the build failed
        this.notMaterialized.set(action.id, asHbError(e, action));
        if (!this.opts.keepGoing) this.halted = true;
      }
    });
    this.runBackground();
  }

  /** Executed actions whose outputs could not be put under hb-out/ become failures, said as such. */
  private failUnmaterialized(): void {
    if (this.notMaterialized.size === 0) return;
    for (const o of this.outcomes) {
      const error = this.notMaterialized.get(o.action.id);
      if (!error || o.status === "failed") continue;
      o.status = "failed";
      o.error = new HbError(error.code, `${o.action.owner}: ${error.message}`, { hint: error.hint });
      this.opts.events?.outputsFailed?.(o);
    }
  }

  /**
   * Work that need not delay the next action (materializing, deleting used sandboxes) runs in
   * slices when the event loop is otherwise idle; `settle` finishes whatever is left.
   */
  private runBackground(): void {
    if (this.backgroundScheduled) return;
    this.backgroundScheduled = true;
    setImmediate(() => {
      this.backgroundScheduled = false;
      const until = performance.now() + 2;
      while (this.background.length > 0 && performance.now() < until) this.runOne();
      if (this.background.length > 0) this.runBackground();
    });
  }

  private runOne(): void {
    const work = this.background.shift()!;
    try {
      work();
    } catch (e) {
      this.backgroundError ??= asHbError(e, { owner: "hb" } as ActionSpec);
    }
  }

  private finishBackground(): void {
    while (this.background.length > 0) this.runOne();
  }

  /** What `p` stages: sources where they are, generated files as their CAS blobs. */
  private inputsToStage(p: Prepared): InputToStage[] {
    return p.files.map((f) => {
      if (f.isSource || f.symlink !== undefined) return f;
      const digest = this.outputs.get(f.path)!;
      const blob = f.executable ? this.opts.base.cas.getExecutable(digest) : this.opts.base.cas.get(digest);
      if (!blob) throw new HbError("MISSING_INPUT", `the cached content of ${f.path} (input of ${p.action.owner}) vanished during the build; run the build again`);
      return { ...f, source: blob };
    });
  }

  /** Lays out `p`'s sandbox: its inputs staged, its outputs directory empty. */
  private stageSandbox(p: Prepared): StagedSandbox {
    const { writableAt, action: a } = p;
    const inputs = this.inputsToStage(p);
    const outDirs = new Set<string>();
    for (const o of a.outputs) {
      const rel = o.slice(writableAt.length + 1);
      if (rel.includes("/")) outDirs.add(rel.slice(0, rel.lastIndexOf("/")));
    }
    for (const d of a.outputDirs) outDirs.add(d.slice(writableAt.length + 1));
    return this.staging.stage(p.stageName, inputs, writableAt, [...outDirs], p.mode === "none", p.dirBinds);
  }

  /**
   * An action waiting for a free slot has its sandbox laid out in the background, while the
   * running actions run (the main thread idles through every spawn), instead of when its turn
   * comes. Not without a sandbox: that tree is the action's working directory on disk.
   */
  private stageAhead(job: Prepared): void {
    const id = job.action.id;
    if (this.aheadAsked.has(id) || job.action.kind !== "run" || job.mode === "none") return;
    this.aheadAsked.add(id);
    this.background.push(() => {
      if (this.begun.has(id) || this.halted || this.opts.signal.aborted) return;
      try {
        this.stagedAhead.set(id, this.stageSandbox(job));
      } catch {
        // laid out again at its turn, which reports the same, naming the action
      }
    });
    this.runBackground();
  }

  /** Sandboxes laid out ahead for actions that never ran (the build stopped). */
  private discardStagedAhead(): void {
    for (const staged of this.stagedAhead.values()) this.staging.discard(staged);
    this.stagedAhead.clear();
  }

  private async execute(p: Prepared): Promise<ActionOutcome> {
    const a = p.action;
    const started = Date.now();
    this.begun.add(a.id);
    if (a.kind === "write") {
      const digest = this.opts.base.cas.putBytes(a.content ?? "", this.opts.sourceDateEpoch);
      const result: ActionResult = {
        files: [{ path: a.outputs[0]!, hash: digest.hash, size: digest.size, executable: a.executable === true }],
        dirs: [],
        exitCode: 0,
        stdout: "",
        stderr: "",
        executedAtMs: started,
        durationMs: 0,
        sandbox: p.mode,
      };
      this.record(p, result, true);
      this.adoptFresh(a, result);
      return { action: a, status: "executed", key: p.key, material: p.material, result, durationMs: Date.now() - started };
    }

    if (a.kind === "fetch" || a.kind === "npm_install") {
      const store = new FetchStore(this.opts.base);
      let files: OutputFile[];
      if (a.kind === "fetch") {
        const blob = store.lookup(a.fetch!.url, a.fetch!.integrity);
        if (!blob) throw new HbError("NOT_FETCHED", `${a.owner}: ${a.fetch!.url} is not fetched`, { hint: "run `hb fetch`" });
        files = [{ path: a.outputs[0]!, hash: blob.hash, size: blob.size, executable: a.executable === true }];
      } else {
        const packages = lockfilePackages(a, this.opts.root, npmPolicy(this.opts.npm));
        files = installPackages(packages, store, this.opts.base.cas, a.outputDirs[0]!, this.opts.sourceDateEpoch);
      }
      const result: ActionResult = { files, dirs: [...a.outputDirs], exitCode: 0, stdout: "", stderr: "", executedAtMs: started, durationMs: Date.now() - started, sandbox: p.mode };
      this.record(p, result, true);
      this.adoptFresh(a, result);
      return { action: a, status: "executed", key: p.key, material: p.material, result, durationMs: Date.now() - started };
    }

    const { writableAt, mode } = p;
    let staged: StagedSandbox | undefined = this.stagedAhead.get(a.id);
    this.stagedAhead.delete(a.id);
    try {
      staged ??= this.stageSandbox(p);
      const { rootDir, outDir } = staged;

      const auditDir = this.opts.audit ? join(staged!.sandboxDir, "audit") : undefined;
      if (auditDir) mkdirSync(auditDir, { recursive: true });
      const run = await this.spawn(p, rootDir, outDir, auditDir);
      const audit = auditDir ? this.auditOf(p, rootDir, auditDir) : undefined;
      if (run.canceled || this.opts.signal.aborted) {
        return { action: a, status: "interrupted", key: p.key, durationMs: Date.now() - started };
      }
      if (run.spawnError !== undefined) {
        throw new HbError("SANDBOX_FAILED", `${a.owner}: could not start ${a.argv[0]}: ${run.spawnError}`);
      }
      if (run.exitCode !== 0) {
        if (audit) this.failedAudits.set(a.id, audit);
        const undeclared = mode === "strict" ? undeclaredToolError(a.owner, run.stderr, describeCommand(a)) : undefined;
        if (undeclared) throw undeclared;
        const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
        const output = [run.stderr.trim() ? `stderr:\n${indent(tail(run.stderr))}` : "", run.stdout.trim() ? `stdout:\n${indent(tail(run.stdout))}` : ""]
          .filter(Boolean)
          .join("\n");
        // the usual first failure in a sandbox: a file of the workspace read but never declared
        const missingFile = mode !== "none" && /No such file or directory/.test(run.stderr);
        throw new HbError("ACTION_FAILED", `${a.owner}: ${a.mnemonic} ${how}\n  command: ${describeCommand(a)}${output ? `\n${output}` : "\n  (no output)"}`, {
          ...(missingFile ? { hint: "the sandbox holds only declared inputs: a file the command reads must be in srcs (or tools), or come from a dependency" } : {}),
        });
      }
      const files = this.collectOutputs(a, outDir, writableAt);
      const changed: string[] = [];
      for (const [abs, before] of p.sourceStats) {
        let now;
        try {
          now = statSync(abs);
        } catch {
          now = undefined;
        }
        if (!now || now.size !== before.size || now.mtimeMs !== before.mtimeMs || now.ctimeMs !== before.ctimeMs || now.ino !== before.ino) changed.push(abs);
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
      if (changed.length > 0) {
        this.opts.events?.warning?.(
          `${changed.map((c) => c.slice(this.opts.root.length + 1)).join(", ")} changed while ${a.owner} was running: its result is not cached; the next build keys it by the file as it is then`,
        );
      }
      this.record(p, result, changed.length === 0);
      this.adoptFresh(a, result);
      return { action: a, status: "executed", key: p.key, material: p.material, result, audit, durationMs: Date.now() - started };
    } finally {
      const used = staged;
      if (used) {
        this.background.push(() => this.staging.discard(used));
        this.runBackground();
      }
    }
  }

  /** Classifies what strace saw: opens and connects outside the action's declarations. */
  private auditOf(p: Prepared, rootDir: string, auditDir: string): ActionAudit {
    const execroot = p.mode === "none" ? rootDir : EXECROOT;
    const files = new Set<string>();
    const dirs = new Set<string>([execroot]);
    for (const f of p.files) {
      const abs = `${execroot}/${f.path}`;
      files.add(abs);
      for (let i = abs.lastIndexOf("/"); i > execroot.length; i = abs.lastIndexOf("/", i - 1)) dirs.add(abs.slice(0, i));
    }
    for (const t of p.action.toolchains) {
      const r = this.toolchains.get(toolchainKey(t))!;
      files.add(r.hostPath);
      for (const m of r.mounts) files.add(m);
    }
    const writable = `${execroot}/${p.writableAt}`;
    const scratch = [writable, p.material.env.TMPDIR!, p.material.env.HOME!];
    const reads = new Set<string>();
    const connects = new Set<string>();
    for (const access of readTraces(auditDir)) {
      if (access.kind === "connect") {
        connects.add(access.target);
        continue;
      }
      const path = absoluteTarget(access.target, execroot);
      if (files.has(path) || dirs.has(path) || alwaysAllowed(path)) continue;
      if (scratch.some((d) => path === d || path.startsWith(d + "/"))) continue;
      reads.add(path);
    }
    return { reads: [...reads].sort(), connects: [...connects].sort() };
  }

  private spawn(p: Prepared, rootDir: string, outDir: string, auditDir: string | undefined) {
    const env = p.material.env;
    const argv = auditDir ? straceArgv(this.strace!.hostPath, p.mode === "none" ? auditDir : AUDIT_DIR, p.action.argv) : p.action.argv;
    if (p.mode === "none") {
      mkdirSync(env.HOME!, { recursive: true });
      mkdirSync(env.TMPDIR!, { recursive: true });
      return spawnProcess(argv[0]!, argv.slice(1), { cwd: rootDir, env, signal: this.opts.signal });
    }
    const etcDir = join(this.opts.base.dir, "sandbox-etc");
    if (!this.etcReady) {
      writeSandboxEtc(etcDir);
      this.etcReady = true;
    }
    const mounts = p.action.toolchains.flatMap((t) => this.toolchains.get(toolchainKey(t))!.mounts);
    if (auditDir && p.mode === "strict") mounts.push(...this.strace!.mounts);
    const systemMounts = p.mode === "strict" ? strictBinds(mounts) : [...systemBinds(), ...bindPaths(mounts)];
    const args = bwrapArgs({ execroot: rootDir, outDir, writableAt: p.writableAt, env, etcDir, network: false, systemMounts });
    for (const d of p.dirBinds) args.push("--ro-bind", d.source, `${EXECROOT}/${d.path}`);
    if (auditDir) args.push("--bind", auditDir, AUDIT_DIR);
    return spawnProcess(findBwrap(), [...args, "--", ...argv], { env: {}, signal: this.opts.signal, diesWithParent: true });
  }

  /** Declared outputs into the CAS; each must exist and be a regular file (or a directory, if declared so). */
  private collectOutputs(a: ActionSpec, outDir: string, writableAt: string): OutputFile[] {
    const files: OutputFile[] = [];
    const epoch = this.opts.sourceDateEpoch;
    const take = (execPath: string, abs: string, st: Stats) => {
      const digest = digestOfFile(abs);
      const executable = (st.mode & 0o100) !== 0;
      this.opts.base.cas.adopt(abs, digest, epoch);
      files.push({ path: execPath, hash: digest.hash, size: digest.size, executable });
    };
    const lstatOrFail = (execPath: string, abs: string, what: string): Stats => {
      try {
        return lstatSync(abs);
      } catch {
        throw new HbError("MISSING_OUTPUT", `${a.owner}: the command did not create its declared ${what} ${execPath}\n  command: ${describeCommand(a)}`, {
          hint: "make the command write every declared output (paths relative to the execroot; see $(OUTS) / $(RULEDIR))",
        });
      }
    };
    const regular = (execPath: string, st: Stats): Stats => {
      if (st.isSymbolicLink()) {
        throw new HbError("BAD_OUTPUT", `${a.owner}: output ${execPath} is a symlink; outputs must be regular files or directories inside the execroot`, {
          hint: "copy the file instead of linking it",
        });
      }
      return st;
    };
    for (const o of a.outputs) {
      const abs = join(outDir, o.slice(writableAt.length + 1));
      const st = regular(o, lstatOrFail(o, abs, "output"));
      if (!st.isFile()) throw new HbError("BAD_OUTPUT", `${a.owner}: output ${o} was declared as a file but is not a regular file`);
      take(o, abs, st);
    }
    for (const d of a.outputDirs) {
      const absDir = join(outDir, d.slice(writableAt.length + 1));
      const st = regular(d, lstatOrFail(d, absDir, "output directory"));
      if (!st.isDirectory()) throw new HbError("BAD_OUTPUT", `${a.owner}: output ${d} was declared as a directory but is not one`);
      const walk = (absPath: string, execPath: string) => {
        for (const e of readdirSync(absPath, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
          const childAbs = join(absPath, e.name);
          const childExec = `${execPath}/${e.name}`;
          const lst = lstatSync(childAbs);
          if (lst.isSymbolicLink()) {
            // inside a tree, a relative link that stays in the tree is kept (node_modules/.bin)
            const target = readlinkSync(childAbs);
            const landing = posix.normalize(posix.join(posix.dirname(childExec), target));
            if (target.startsWith("/") || !landing.startsWith(d + "/")) {
              throw new HbError("BAD_OUTPUT", `${a.owner}: ${childExec} is a symlink to ${target}, which leaves the output directory ${d}`);
            }
            files.push(symlinkEntry(childExec, target));
            continue;
          }
          if (lst.isDirectory()) walk(childAbs, childExec);
          else if (lst.isFile()) take(childExec, childAbs, lst);
        }
      };
      walk(absDir, d);
    }
    return files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }
}

function asHbError(e: unknown, a: ActionSpec): HbError {
  if (e instanceof HbError) return e;
  return new HbError("INTERNAL", `${a.owner}: ${(e as Error)?.stack ?? String(e)}`);
}
