import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { OutputFile } from "../../caching/action-cache";
import type { KeyedFile } from "../../keying/action-key";
import type { ActionGraph } from "../../base/graph";
import { analyzeWorkspace } from "../analyze";
import { readStamp } from "../stamp";
import { HbError, type HbErrorData } from "../../base/errors";
import { actionsNeededBy } from "../../execution/action-closure";
import { describeCommand } from "../../api/shell";
import { type RecordHeader, type RecordLimits, appendRunRecord, recordHeader, recordLimits } from "../run-record";
import { type ActionOutcome, type BuildEvents, executeActions } from "../../execution/executor";
import { findBwrap } from "../../sandbox/bwrap";
import { tmpfsDir } from "../../sandbox/tmpfs";
import { spawnProcess } from "../../base/process";
import { lockOutputBase } from "../../workspace/lock";
import { OutputBase } from "../../caching/output-base";
import { DEFAULT_SOURCE_DATE_EPOCH, type NpmConfig } from "../../workspace/config";
import { type FetchedBlob, FetchStore } from "../../fetch/fetch-step";
import { fetchRequests, npmPolicy } from "../../fetch/requests";
import { type SandboxMode } from "../../base/action-env";
import { openWorkspace } from "../../workspace/workspace";
import { diffArchives, listArchive } from "./archive-entries";
import { firstDifferingByte, looksLikeText, shortTextDiff } from "./compare-files";
import { type ProvenanceRequest, prepareProvenance, writeRebuildAttestations } from "../sign-provenance";
import { defaultBuilderId } from "../../provenance/statement";

export interface VerifyOptions {
  cwd: string;
  patterns: readonly string[];
  /** how many from-scratch builds (at least 2) */
  runs: number;
  jobs: number;
  sandbox?: SandboxMode;
  /** run actions tagged no-sandbox unsandboxed */
  allowUnsandboxed?: boolean;
  stamp?: boolean;
  /** keep the runs' output bases for inspection */
  keep?: boolean;
  /** hand differing files to diffoscope when it is installed */
  diffoscope?: boolean;
  outputBase?: string;
  /** sign a rebuild attestation for each output of the targets when every run agreed */
  attest?: RebuildAttestRequest;
  /** no downloads: each run's external inputs are the ones the workspace fetched (hb fetch) */
  offline?: boolean;
  analyzerScript: string;
  signal: AbortSignal;
  events?: BuildEvents & { runStarted?(run: number, of: number, conditions: string, outputBase: string): void };
}

export interface RebuildAttestRequest extends ProvenanceRequest {
  /** hb's version, as the statements record it */
  hbVersion: string;
  /** absolute directory for the attestations; default beside each output, under hb-out/ */
  attestDir?: string;
}

export interface FileDifference {
  path: string;
  run1?: { sha256: string; size: number };
  other?: { sha256: string; size: number };
  firstDifferingByte?: number;
  textDiff?: string;
  archive?: string[];
  diffoscope?: string;
}

export interface Divergence {
  label: string;
  mnemonic: string;
  command: string;
  /** which run (2..n) disagreed with run 1; or, with `failed`, the run in which the action failed */
  run: number;
  files: FileDifference[];
  /** the action failed in `run` and succeeded in another: why it failed there */
  failed?: { conditions: string; succeededIn: number; message: string; error: HbErrorData };
}

export type TargetStatus = "reproducible" | "not reproducible" | "failed";

export interface TargetVerdict {
  label: string;
  status: TargetStatus;
  runs: number;
  /** label of the earliest diverging action among the target's actions */
  firstDivergence?: string;
  /** its outputs as the first run made them (the artifacts the verdict is about) */
  outputs: { path: string; sha256: string }[];
}

export interface VerifyReport extends RecordHeader {
  runs: number;
  targets: TargetVerdict[];
  reproducible: number;
  total: number;
  /** reproducible targets / targets, 0..1 */
  passRate: number;
  actions: { compared: number; diverged: number };
  divergences: Divergence[];
  failures: HbErrorData[];
  conditions: string[];
  outputBases: string[];
  runDurationsMs: number[];
  compareMs: number;
  durationMs: number;
  /** with `attest`: the rebuild attestations written (absolute paths); none unless every run agreed */
  attestations?: string[];
}

/**
 * What a second machine would vary. The first run builds as things are; the varied run moves the
 * output base to another, longer path, stages every sandbox in reverse order (on a tmpfs, which
 * lists a directory newest first, so directories list their entries in another order), and
 * changes the caller's TZ, locale, TMPDIR and umask. A correct action is reproducible under all
 * of it. (Inputs' dates need no varying: the sandbox dates every input SOURCE_DATE_EPOCH.)
 */
interface Conditions {
  name: string;
  varied: boolean;
}

interface RunResult {
  base: OutputBase;
  outcomes: Map<number, ActionOutcome>;
  durationMs: number;
}

const keyedEqual = (a: readonly KeyedFile[], b: readonly KeyedFile[]) =>
  a.length === b.length &&
  a.every((x, i) => x.path === b[i]!.path && x.hash === b[i]!.hash && x.size === b[i]!.size && x.executable === b[i]!.executable);

const filesEqual = (a: readonly OutputFile[], b: readonly OutputFile[]) =>
  a.length === b.length && a.every((x, i) => x.path === b[i]!.path && x.hash === b[i]!.hash && x.executable === b[i]!.executable);

/** Same command, same input bytes: the only way the outputs may differ is non-determinism. */
function inputsMatch(a: ActionOutcome, b: ActionOutcome): boolean {
  const ma = a.material;
  const mb = b.material;
  if (!ma || !mb) return false;
  return JSON.stringify(ma.argv) === JSON.stringify(mb.argv) && keyedEqual(ma.inputs, mb.inputs) && keyedEqual(ma.tools, mb.tools);
}

interface FetchedInput extends FetchedBlob {
  url: string;
  integrity: string;
  /** the blob in the workspace's CAS, verified a moment ago */
  path: string;
}

/** The external inputs the targets need, as the workspace's fetch step stored them; NOT_FETCHED for one it has not. */
function fetchedInputs(graph: ActionGraph, root: string, base: OutputBase, npm: NpmConfig | undefined): FetchedInput[] {
  const store = new FetchStore(base);
  const requests = fetchRequests(
    actionsNeededBy(graph, graph.requested).map((id) => graph.actions[id]!),
    root,
    npmPolicy(npm, root),
  );
  return requests.map((r) => {
    const blob = store.lookup(r.url, r.integrity);
    if (!blob) {
      throw new HbError("NOT_FETCHED", `--offline: ${r.url} (for ${r.what}) is not fetched in this workspace`, {
        hint: "run `hb fetch <patterns>` first: hb verify --offline reuses what the workspace fetched",
      });
    }
    return { url: r.url, integrity: r.integrity, ...blob };
  });
}

/** Gives a run's fresh output base the workspace's fetched inputs, so its fetch step has nothing to download. */
function seedFetched(base: OutputBase, inputs: readonly FetchedInput[], epoch: number): void {
  const store = new FetchStore(base);
  for (const f of inputs) {
    const tmp = base.cas.tempPath();
    copyFileSync(f.path, tmp);
    base.cas.adopt(tmp, { hash: f.hash, size: f.size }, epoch);
    store.record(f.url, f.integrity, { hash: f.hash, size: f.size });
  }
}

/** `hb verify`: build from scratch `runs` times under varied conditions and compare every action's outputs. */
export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  if (opts.runs < 2) throw new HbError("USAGE", "--runs must be at least 2: verifying compares rebuilds");
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  // before any work: the key must load, the tree be clean, the build sandboxed
  const signing = opts.attest ? await prepareProvenance(workspace, opts.attest, opts.sandbox, "--attest") : undefined;
  const hidden = opts.attest ? [resolve(opts.cwd, opts.attest.signingKey)] : [];
  if (opts.sandbox !== "none") findBwrap();

  // Analysis is not what is being verified: take it from the workspace's own output base.
  let graph: ActionGraph;
  let mode: SandboxMode;
  let epoch: number;
  let limits: RecordLimits;
  let fetched: FetchedInput[] = [];
  let npm: NpmConfig | undefined;
  let execProperties: Record<string, string> | undefined;
  {
    const lock = await lockOutputBase(workspace.outputBase, () => undefined, opts.signal);
    const base = new OutputBase(workspace.outputBase);
    try {
      const analysis = await analyzeWorkspace({
        workspace,
        base,
        patterns: opts.patterns,
        cwd: opts.cwd,
        analyzerScript: opts.analyzerScript,
        sandboxed: opts.sandbox !== "none",
        signal: opts.signal,
        hide: hidden,
      });
      graph = analysis.graph;
      npm = analysis.config.npm;
      execProperties = analysis.config.execProperties;
      mode = opts.sandbox ?? analysis.config.sandbox ?? "default";
      epoch = analysis.config.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
      limits = recordLimits(analysis.config);
      if (opts.offline) fetched = fetchedInputs(graph, workspace.root, base, npm);
    } finally {
      base.close();
      lock.release();
    }
  }
  const stamp = opts.stamp ? await readStamp(workspace.root, epoch) : undefined;

  const scratch = mkdtempSync(join(tmpdir(), "hb-verify-"));
  const shm = tmpfsDir();
  const conditions: Conditions[] = [];
  const runs: RunResult[] = [];
  const outputBases: string[] = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const varied = i % 2 === 1;
      const name = varied
        ? `varied: longer output base path, sandboxes staged in reverse order${shm ? " (on tmpfs: listed in another order)" : ""}, TZ=Pacific/Kiritimati, LANG=tr_TR.UTF-8, another TMPDIR, umask 077`
        : "as is";
      conditions.push({ name, varied });
      const dir = varied ? join(scratch, `run-${i + 1}`, "a", "much", "longer", "output", "base") : join(scratch, `run-${i + 1}`);
      mkdirSync(dir, { recursive: true });
      outputBases.push(dir);
      opts.events?.runStarted?.(i + 1, opts.runs, name, dir);
      const saved = { TZ: process.env.TZ, LANG: process.env.LANG, LC_ALL: process.env.LC_ALL, TMPDIR: process.env.TMPDIR };
      const savedUmask = process.umask();
      if (varied) {
        Object.assign(process.env, {
          TZ: "Pacific/Kiritimati",
          LANG: "tr_TR.UTF-8",
          LC_ALL: "tr_TR.UTF-8",
          TMPDIR: join(scratch, "other-tmp"),
        });
        process.umask(0o077);
      }
      const base = new OutputBase(dir);
      seedFetched(base, fetched, epoch);
      const t0 = Date.now();
      try {
        const exec = await executeActions({
          root: workspace.root,
          base,
          graph,
          targets: graph.requested,
          mode,
          sourceDateEpoch: epoch,
          stamp,
          execProperties,
          jobs: opts.jobs,
          keepGoing: true,
          signal: opts.signal,
          events: opts.events,
          useCache: false,
          materialize: false,
          reverseStaging: varied,
          allowUnsandboxed: opts.allowUnsandboxed,
          npm,
          hidden,
          network: !opts.offline,
        });
        runs.push({ base, outcomes: new Map(exec.outcomes.map((o) => [o.action.id, o])), durationMs: Date.now() - t0 });
        if (exec.interrupted) throw new HbError("INTERRUPTED", "interrupted");
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
        process.umask(savedUmask);
      }
    }

    const t0 = Date.now();
    const compared = await compareRuns(graph, runs, conditions, opts);
    const agreed = compared.reproducible === compared.total && compared.failures.length === 0 && compared.divergences.length === 0;
    const attestations =
      signing && agreed
        ? writeRebuildAttestations({
            root: workspace.root,
            outcomes: [...runs[0]!.outcomes.values()],
            subjects: requestedOutputs(graph, runs[0]!),
            patterns: opts.patterns,
            mode,
            sourceDateEpoch: epoch,
            hbVersion: opts.attest!.hbVersion,
            npm,
            key: signing.key,
            source: signing.source,
            builderId: opts.attest!.builderId ?? defaultBuilderId(),
            startedOn: new Date(started),
            finishedOn: new Date(),
            runs: runs.length,
            attestDir: opts.attest!.attestDir,
          })
        : undefined;
    const report: VerifyReport = {
      ...recordHeader("verify", workspace.root, started, { builderId: opts.attest?.builderId, dirty: signing?.source.commit?.dirty }),
      ...compared,
      ...(signing ? { attestations: attestations ?? [] } : {}),
      runs: opts.runs,
      conditions: conditions.map((c) => c.name),
      outputBases: opts.keep ? outputBases : [],
      runDurationsMs: runs.map((r) => r.durationMs),
      compareMs: Date.now() - t0,
      durationMs: Date.now() - started,
    };
    // recorded in the workspace's own output base, though it built in others
    appendRunRecord(workspace.outputBase, report, limits);
    return report;
  } finally {
    for (const r of runs) r.base.close();
    if (!opts.keep) rmSync(scratch, { recursive: true, force: true });
  }
}

/** The generated outputs of the requested targets, with the digests the first run gave them. */
function requestedOutputs(graph: ActionGraph, run: RunResult): { path: string; sha256: string }[] {
  const files = new Map([...run.outcomes.values()].flatMap((o) => (o.result?.files ?? []).map((f) => [f.path, f] as const)));
  const wanted = new Set(graph.targets.filter((t) => graph.requested.includes(t.label)).flatMap((t) => t.files));
  const subjects = [...wanted].flatMap((path) => (files.has(path) ? [{ path, sha256: files.get(path)!.hash }] : []));
  if (subjects.length === 0) throw new HbError("USAGE", "--attest: the requested targets have no generated outputs to attest");
  return subjects.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function compareRuns(
  graph: ActionGraph,
  runs: RunResult[],
  conditions: Conditions[],
  opts: VerifyOptions,
): Promise<Omit<VerifyReport, keyof RecordHeader | "runs" | "conditions" | "outputBases" | "runDurationsMs" | "compareMs">> {
  const first = runs[0]!;
  const diverged = new Map<number, Divergence>();
  const failed = new Set<number>();
  const failures: HbErrorData[] = [];
  let compared = 0;
  for (const id of [...first.outcomes.keys()].sort((a, b) => a - b)) {
    const a = first.outcomes.get(id)!;
    const outcomes = runs.map((r) => r.outcomes.get(id));
    const failedIn = outcomes.findIndex((o) => o?.status === "failed");
    const succeededIn = outcomes.findIndex((o) => o?.status === "executed");
    if (failedIn >= 0 && succeededIn >= 0) {
      // the same command failed under one run's conditions only: that is not reproducible either
      compared++;
      const o = outcomes[failedIn]!;
      diverged.set(id, {
        label: o.action.owner,
        mnemonic: o.action.mnemonic,
        command: describeCommand(o.action),
        run: failedIn + 1,
        files: [],
        failed: {
          conditions: conditions[failedIn]!.name,
          succeededIn: succeededIn + 1,
          message: o.error?.message ?? "failed",
          error: o.error?.toData() ?? { code: "INTERNAL", message: "failed" },
        },
      });
      continue;
    }
    for (const o of outcomes) {
      if (o?.status !== "failed") continue;
      failed.add(id);
      if (o.error && !failures.some((f) => f.message === o.error!.message)) failures.push(o.error.toData());
    }
    if (failed.has(id) || a.status !== "executed") continue;
    compared++;
    for (let r = 1; r < runs.length && !diverged.has(id); r++) {
      const b = runs[r]!.outcomes.get(id);
      if (!b || b.status !== "executed" || !inputsMatch(a, b)) continue;
      if (filesEqual(a.result!.files, b.result!.files)) continue;
      diverged.set(id, {
        label: a.action.owner,
        mnemonic: a.action.mnemonic,
        command: describeCommand(a.action),
        run: r + 1,
        files: await describeDifferences(a.result!.files, b.result!.files, first.base, runs[r]!.base, opts.diffoscope === true),
      });
    }
  }

  const targets: TargetVerdict[] = graph.requested.map((label) => {
    const ids = actionsNeededBy(graph, [label]);
    const firstDiv = ids.find((id) => diverged.has(id));
    const status: TargetStatus = ids.some((id) => failed.has(id)) ? "failed" : firstDiv !== undefined ? "not reproducible" : "reproducible";
    const made = new Map([...first.outcomes.values()].flatMap((o) => (o.result?.files ?? []).map((f) => [f.path, f.hash] as const)));
    const files = graph.targets.find((t) => t.label === label)?.files ?? [];
    const outputs = files.flatMap((path) => (made.has(path) ? [{ path, sha256: made.get(path)! }] : []));
    const verdict: TargetVerdict = { label, status, runs: runs.length, outputs };
    if (firstDiv !== undefined) verdict.firstDivergence = diverged.get(firstDiv)!.label;
    return verdict;
  });
  const reproducible = targets.filter((t) => t.status === "reproducible").length;
  return {
    targets,
    reproducible,
    total: targets.length,
    passRate: targets.length === 0 ? 1 : reproducible / targets.length,
    actions: { compared, diverged: diverged.size },
    divergences: [...diverged.entries()].sort(([x], [y]) => x - y).map(([, d]) => d),
    failures,
  };
}

async function describeDifferences(
  a: OutputFile[],
  b: OutputFile[],
  baseA: OutputBase,
  baseB: OutputBase,
  diffoscope: boolean,
): Promise<FileDifference[]> {
  const byPath = new Map(b.map((f) => [f.path, f]));
  const out: FileDifference[] = [];
  const paths = [...new Set([...a.map((f) => f.path), ...b.map((f) => f.path)])].sort();
  const inA = new Map(a.map((f) => [f.path, f]));
  for (const path of paths) {
    const fa = inA.get(path);
    const fb = byPath.get(path);
    if (fa && fb && fa.hash === fb.hash && fa.executable === fb.executable) continue;
    const d: FileDifference = { path };
    if (fa) d.run1 = { sha256: fa.hash, size: fa.size };
    if (fb) d.other = { sha256: fb.hash, size: fb.size };
    if (fa && fb && fa.hash !== fb.hash) {
      const pa = baseA.cas.blobPath(fa.hash);
      const pb = baseB.cas.blobPath(fb.hash);
      d.firstDifferingByte = firstDifferingByte(pa, pb);
      const small = fa.size <= 16 << 20 && fb.size <= 16 << 20;
      if (small) {
        const ba = readFileSync(pa);
        const bb = readFileSync(pb);
        const archA = listArchive(ba);
        const archB = archA ? listArchive(bb) : undefined;
        if (archA && archB) d.archive = diffArchives(archA, archB);
        else if (looksLikeText(ba) && looksLikeText(bb)) d.textDiff = shortTextDiff(ba.toString("utf8"), bb.toString("utf8"));
      }
      if (diffoscope) {
        const r = await spawnProcess("diffoscope", ["--text", "-", pa, pb], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
          signal: new AbortController().signal,
        });
        d.diffoscope = r.spawnError
          ? `diffoscope is not installed (apt-get install diffoscope): ${r.spawnError}`
          : r.stdout.split("\n").slice(0, 200).join("\n");
      }
    } else if (fa && fb) {
      d.textDiff = `executable bit: ${fa.executable} vs ${fb.executable}`;
    }
    out.push(d);
  }
  return out;
}
