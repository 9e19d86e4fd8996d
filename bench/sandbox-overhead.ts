// sandbox-overhead.ts — hb's cost per sandboxed action beyond a bare bwrap spawn, measured in
// one process so that Node's start-up, analysis and the CLI are not part of it.
//
// hb: executeActions on M independent actions, each with FILES small declared source inputs
// and one declared output, cache off (every action runs), jobs 1, stat cache warm (inputs are
// not hashed). Per action: the time from the previous action's end to this one's (jobs 1), so
// everything hb does per action is in it, in line or in the background: copying the inputs
// into the input cache and staging them, the bwrap spawn, collecting the output into the CAS,
// recording the result, materializing it under hb-out/, removing the sandbox. Not included: the
// key computation, done for all actions before the first one starts.
// floor: M spawns one after another, through the same spawnProcess, of bwrap with the same
// arguments (bwrapArgs: same flags, system binds, env) and the same command, on a prepared
// execroot: no staging; per spawn, the same end-to-end interval.
//
// Usage (bundled by bench/run.mjs): node sandbox-overhead.mjs --dir DIR [--m 200] [--files 10] [--rounds 5]
// Prints one JSON object on stdout.

import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  type ActionGraph,
  type ActionSpec,
  DEFAULT_SOURCE_DATE_EPOCH,
  OutputBase,
  SANDBOX_HOME,
  SYSTEM_PATH,
  bwrapArgs,
  determinismEnv,
  executeActions,
  findBwrap,
  spawnProcess,
  writeSandboxEtc,
} from "@hb/core/engine";

interface Options {
  dir: string;
  m: number;
  files: number;
  rounds: number;
}

// the cheapest command that creates its declared output, the same for hb and the floor
const TOUCH = "/usr/bin/touch";
// The env hb gives this action (determinism env; PATH: the toolchain's directory, then the
// system's), so that the floor's bwrap gets as many --setenv arguments as hb's.
const ACTION_ENV = determinismEnv({
  sourceDateEpoch: DEFAULT_SOURCE_DATE_EPOCH,
  path: [...new Set(["/usr/bin", ...SYSTEM_PATH.split(":")])].join(":"),
  home: SANDBOX_HOME,
  tmpdir: "/tmp",
});

function parseArgs(argv: string[]): Options {
  const o: Options = { dir: "", m: 200, files: 10, rounds: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1] ?? ""];
    if (k === "--dir") o.dir = v;
    else if (k === "--m") o.m = Number(v);
    else if (k === "--files") o.files = Number(v);
    else if (k === "--rounds") o.rounds = Number(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!o.dir) throw new Error("--dir DIR is required");
  return o;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

const pkgOf = (i: number) => `sb/a${i}`;
const outputOf = (i: number) => `hb-out/${pkgOf(i)}/out`;

/** Source files with old mtimes: the stat cache trusts them at once (no racy-clean re-hash). */
function writeSources(root: string, o: Options): void {
  const old = new Date(Date.now() - 60_000);
  for (let i = 0; i < o.m; i++) {
    mkdirSync(join(root, pkgOf(i)), { recursive: true });
    for (let j = 0; j < o.files; j++) {
      const f = join(root, pkgOf(i), `f${j}.txt`);
      writeFileSync(f, `action ${i} input ${j}\n`);
      utimesSync(f, old, old);
    }
  }
  writeFileSync(join(root, "hb.config.ts"), "export default {};\n");
}

function makeGraph(o: Options): ActionGraph {
  const actions: ActionSpec[] = [];
  for (let i = 0; i < o.m; i++) {
    const owner = `//${pkgOf(i)}:t`;
    actions.push({
      id: i,
      owner,
      mnemonic: "Touch",
      kind: "run",
      argv: [TOUCH, outputOf(i)],
      env: {},
      inputs: [...Array(o.files).keys()].map((j) => `${pkgOf(i)}/f${j}.txt`).sort(),
      tools: [],
      // an absolute executable is an implicit toolchain, as the analyzer records it
      toolchains: [{ label: "", path: TOUCH, sha256: "" }],
      outputs: [outputOf(i)],
      outputDirs: [],
      stamp: false,
      tags: [],
      progress: `Touch ${owner}`,
    });
  }
  const targets = actions.map((a) => ({
    label: a.owner,
    kind: "touch",
    location: { file: "BUILD.ts" },
    deps: [],
    files: a.outputs,
    tags: [],
  }));
  return { targets, actions, requested: targets.map((t) => t.label) };
}

/**
 * From one pass's completion times (jobs 1, so actions end one after another) to per-action
 * times: from the last one's end to this one's. Whatever is done for an action in the
 * background (its inputs copied ahead, its outputs materialized, its sandbox removed) lands in
 * some action's interval, unless it overlapped a spawn.
 */
function intervals(startedMs: number, finishedMs: number[]): number[] {
  return finishedMs.map((t, i) => t - (i === 0 ? startedMs : finishedMs[i - 1]!));
}

/** One hb pass: per-action times (ms) and the whole pass's time. */
async function hbPass(root: string, base: OutputBase, graph: ActionGraph): Promise<{ perAction: number[]; totalMs: number }> {
  let firstStarted: number | undefined;
  const finished: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  await executeActions({
    root,
    base,
    graph,
    targets: graph.requested,
    mode: "default",
    sourceDateEpoch: DEFAULT_SOURCE_DATE_EPOCH,
    jobs: 1,
    keepGoing: false,
    signal: new AbortController().signal,
    useCache: false,
    events: {
      actionStarted: () => (firstStarted ??= performance.now()),
      actionFinished: (out) => {
        if (out.status !== "executed") failed++;
        finished.push(performance.now());
      },
    },
  });
  const totalMs = performance.now() - t0;
  if (failed > 0) throw new Error(`${failed} actions did not execute`);
  return { perAction: intervals(firstStarted!, finished), totalMs };
}

/** One floor pass: M bare bwrap spawns of the same command, same arguments, prepared dirs. */
async function floorPass(dir: string, o: Options): Promise<{ perAction: number[]; totalMs: number }> {
  const bwrap = findBwrap();
  const signal = new AbortController().signal;
  const finished: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < o.m; i++) {
    const args = bwrapArgs({
      execroot: join(dir, "root"),
      outDir: join(dir, "out", String(i)),
      writableAt: `hb-out/${pkgOf(i)}`,
      env: ACTION_ENV,
      etcDir: join(dir, "etc"),
      network: false,
    });
    const r = await spawnProcess(bwrap, [...args, "--", TOUCH, outputOf(i)], { env: {}, signal, diesWithParent: true });
    if (r.exitCode !== 0) throw new Error(`floor: bwrap exited ${r.exitCode}: ${r.stderr}`);
    finished.push(performance.now());
  }
  return { perAction: intervals(t0, finished), totalMs: performance.now() - t0 };
}

function prepareFloor(dir: string, o: Options): void {
  writeSandboxEtc(join(dir, "etc"));
  for (let i = 0; i < o.m; i++) {
    mkdirSync(join(dir, "root/hb-out", pkgOf(i)), { recursive: true });
    mkdirSync(join(dir, "out", String(i)), { recursive: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const root = join(o.dir, "ws");
  const floorDir = join(o.dir, "floor");
  writeSources(root, o);
  prepareFloor(floorDir, o);
  const base = new OutputBase(join(root, ".hb"));
  const graph = makeGraph(o);
  try {
    // warm-up: fills the stat cache, loads execa, writes the sandbox's /etc files
    await hbPass(root, base, graph);
    await floorPass(floorDir, { ...o, m: Math.min(o.m, 20) });
    const hashedBefore = base.stats.hashedFiles;
    const hb: number[] = [],
      floor: number[] = [],
      hbTotals: number[] = [],
      floorTotals: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      // alternate the order so that drift on a shared machine hits both sides alike
      const passes = r % 2 === 0 ? (["floor", "hb"] as const) : (["hb", "floor"] as const);
      for (const p of passes) {
        const res = p === "hb" ? await hbPass(root, base, graph) : await floorPass(floorDir, o);
        (p === "hb" ? hb : floor).push(...res.perAction);
        (p === "hb" ? hbTotals : floorTotals).push(res.totalMs / o.m);
      }
    }
    const out = {
      m: o.m,
      files: o.files,
      rounds: o.rounds,
      command: `${TOUCH} <output>`,
      hashedInputsDuringTimedRuns: base.stats.hashedFiles - hashedBefore,
      hb: { perActionMedianMs: median(hb), totalOverMMedianMs: median(hbTotals) },
      floor: { perActionMedianMs: median(floor), totalOverMMedianMs: median(floorTotals) },
    };
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    base.close();
  }
}

await main();
