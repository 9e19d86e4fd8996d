// The watch figures: edit-to-output of a leaf edit under `hb watch` against Bazel 4.2's
// incremental leaf build with a warm server (and beside `hb build` after the same edit), the CPU
// a touch or a same-bytes save costs the watch, and the watch's memory over 100 edits.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeBazelFiles } from "./gen-monorepo.mjs";
import { timeCommand } from "./measure.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU time of every thread of `pid` so far, in ms (schedstat: nanoseconds on a CPU, per thread). */
function cpuMs(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e6;
}

/** The memory of `pid` as the kernel counts it (/proc/PID/status), in MiB; its threads. */
function procMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return {
    rssMiB: kb("VmRSS") / 1024,
    hwmMiB: kb("VmHWM") / 1024,
    anonMiB: kb("RssAnon") / 1024,
    fileMiB: kb("RssFile") / 1024,
    shmemMiB: kb("RssShmem") / 1024,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
  };
}

/** A memory sample in one line, for the bench's log. */
const describe = (m) =>
  `RSS ${m.rssMiB.toFixed(1)} MiB (anon ${m.anonMiB.toFixed(1)}, file ${m.fileMiB.toFixed(1)}, shmem ${m.shmemMiB.toFixed(1)}), ` +
  `heap ${m.heapUsedMiB.toFixed(1)} of ${m.heapTotalMiB.toFixed(1)} MiB, external ${m.externalMiB.toFixed(1)} MiB, ${m.threads} threads`;

/**
 * One memory sample of the watch: the kernel's counts, then (through bench/memory-probe.mjs)
 * V8's: heap used (garbage not collected yet included) and committed, external memory and
 * ArrayBuffers, in MiB.
 */
async function memorySample(w) {
  const sample = procMemory(w.child.pid);
  rmSync(w.probeFile, { force: true });
  w.child.kill("SIGUSR2");
  const usage = await until(
    () => {
      try {
        return JSON.parse(readFileSync(w.probeFile, "utf8"));
      } catch {
        return undefined;
      }
    },
    "the watch's memory probe",
    10_000,
    5,
  );
  const mib = (b) => b / (1 << 20);
  return {
    ...sample,
    heapUsedMiB: mib(usage.heapUsed),
    heapTotalMiB: mib(usage.heapTotal),
    externalMiB: mib(usage.external),
    arrayBuffersMiB: mib(usage.arrayBuffers),
  };
}

/** Waits until `check()` is truthy, looking every `everyMs`; throws after `limitMs`. */
async function until(check, what, limitMs = 60_000, everyMs = 1) {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `hb watch //...` in `repo`, with its report after each build readable. */
async function startWatch(ctx, repo) {
  const report = join(ctx.work, "watch-report.json");
  rmSync(report, { force: true });
  const probeFile = join(ctx.work, "watch-memory.json");
  // the probe answers SIGUSR2 with process.memoryUsage(); no --expose-gc: a collection forced
  // at each sample would shrink the very memory measured
  const probe = ["--import", pathToFileURL(join(ctx.benchDir, "memory-probe.mjs")).href];
  const child = spawn(ctx.hb[0], [...probe, ...ctx.hb.slice(1), "watch", "//...", "--jobs", String(ctx.jobs), "--report", report], {
    cwd: repo,
    env: { ...process.env, HB_BENCH_MEMORY_FILE: probeFile },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const last = () => {
    try {
      return JSON.parse(readFileSync(report, "utf8"));
    } catch {
      return undefined;
    }
  };
  await until(() => last()?.watch?.build >= 1 || child.exitCode !== null, "the watch's first build", 300_000, 20);
  if (child.exitCode !== null) throw new Error(`hb watch exited ${child.exitCode}: ${stderr.slice(-500)}`);
  return {
    child,
    probeFile,
    last,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGINT");
      if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
    },
  };
}

let revision = 1_000_000;
/** Rewrites the leaf's edit marker with a new value; returns it. */
function editLeaf(repo, spot) {
  const file = join(repo, spot.file);
  const text = readFileSync(file, "utf8");
  const value = ++revision;
  writeFileSync(file, text.replace(new RegExp(`^export const ${spot.marker} = \\d+;`, "m"), `export const ${spot.marker} = ${value};`));
  return value;
}

/** The output of the leaf's edited file, in hb-out/. */
const leafOutput = (repo, spot) => join(repo, "hb-out", spot.dir, "dist", `${spot.file.split("/").pop().replace(/\.ts$/, "")}.js`);

/** A Bazel 4.2 workspace of the same monorepo, its server started and its first build done. */
function bazelRepo(ctx) {
  if (spawnSync("bazel", ["--version"], { stdio: "ignore" }).status !== 0) return undefined;
  const dir = join(ctx.work, "bazel-repo");
  rmSync(dir, { recursive: true, force: true });
  execFileSync("cp", ["-a", ctx.repo, dir]);
  for (const d of [".hb", "hb-out"]) rmSync(join(dir, d), { recursive: true, force: true });
  writeBazelFiles(dir, ctx.manifest);
  const root = join(ctx.work, "bazel-root");
  const argv = ["bazel", `--output_user_root=${root}`, "build", `--jobs=${ctx.jobs}`, "//..."];
  log("bazel: first build (starts the server)");
  const first = timeCommand(argv, { cwd: dir });
  if (first.status !== 0) {
    const msg = `bazel build exited ${first.status}: ${first.stderr.trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
    return undefined;
  }
  return { dir, argv, shutdown: () => spawnSync("bazel", [`--output_user_root=${root}`, "shutdown"], { cwd: dir, stdio: "ignore" }) };
}

/**
 * Edit-to-output: the leaf's marker rewritten, then (a) under `hb watch`, the time until the
 * watch's report says the build is done (its own timestamps) and until an observer polling
 * hb-out/ sees the new output; (b) `bazel build //...` with its server warm; (c) `hb build //...`
 * after the same edit, in a copy with its own output base (the watch holds the repo's).
 */
export async function watchScenario(ctx) {
  const spot = ctx.manifest.leaf;
  const res = { watchOwn: [], watchObserved: [], watchDetected: [], bazel: [], hbBuild: [], touchCpu: [], sameBytesCpu: [], idleCpu: [] };
  const bazel = bazelRepo(ctx);
  const buildRepo = join(ctx.work, "build-repo");
  rmSync(buildRepo, { recursive: true, force: true });
  execFileSync("cp", ["-a", ctx.repo, buildRepo]);
  const hbArgv = [...ctx.hb, "build", "//...", "--jobs", String(ctx.jobs)];
  const w = await startWatch(ctx, ctx.repo);
  try {
    res.memory = { afterBuild: await memorySample(w) };
    log(`watch: after its first build: ${describe(res.memory.afterBuild)}; peak so far ${res.memory.afterBuild.hwmMiB.toFixed(1)} MiB`);
    log(
      `watch edit-to-output: ${ctx.shortRuns} runs (+1 warm-up), beside bazel ${bazel ? "(warm server)" : "(not installed: skipped)"} and hb build`,
    );
    for (let r = -1; r < ctx.shortRuns; r++) {
      const builds = w.last().watch.build;
      const out = leafOutput(ctx.repo, spot);
      const t0 = Date.now();
      const value = editLeaf(ctx.repo, spot);
      const seenAt = await until(
        () => existsSync(out) && readFileSync(out, "utf8").includes(`= ${value};`) && Date.now(),
        "the leaf's output",
      );
      const done = await until(() => (w.last()?.watch?.build > builds ? w.last() : undefined), "the watch's report");
      if (r >= 0) {
        res.watchObserved.push({ ms: seenAt - t0 });
        res.watchOwn.push({ ms: done.watch.timing.finishedAtMs - t0, executed: done.executed });
        res.watchDetected.push({ ms: done.watch.timing.finishedAtMs - done.watch.timing.firstChangeAtMs });
      }
      if (bazel) {
        editLeaf(bazel.dir, spot);
        const b = timeCommand(bazel.argv, { cwd: bazel.dir });
        if (r >= 0) res.bazel.push({ ms: b.ms, ok: b.status === 0 });
      }
      editLeaf(buildRepo, spot);
      const h = timeCommand(hbArgv, { cwd: buildRepo });
      if (r >= 0) res.hbBuild.push({ ms: h.ms, ok: h.status === 0 });
    }
    log("watch: CPU of a touch, a same-bytes save, and of nothing, 10 each");
    const file = join(ctx.repo, spot.file);
    const cpuOf = async (act) => {
      await sleep(300);
      const before = cpuMs(w.child.pid);
      act();
      // nothing to wait for when nothing is to happen: the watch's quiet windows are 10 and 100 ms
      await sleep(400);
      return { ms: cpuMs(w.child.pid) - before };
    };
    const builds = w.last().watch.build;
    for (let i = 0; i < 10; i++) {
      res.touchCpu.push(
        await cpuOf(() => {
          const t = Date.now() / 1000;
          utimesSync(file, t, t);
        }),
      );
      res.sameBytesCpu.push(await cpuOf(() => writeFileSync(file, readFileSync(file))));
      res.idleCpu.push(await cpuOf(() => {}));
    }
    res.touchBuilds = w.last().watch.build - builds;
    res.memory.beforeEdits = await memorySample(w);
    log(`watch: memory over ${MEMORY_EDITS} edits`);
    res.memory.edits = await memoryOver(w, ctx, spot, MEMORY_EDITS);
  } finally {
    await w.stop();
    bazel?.shutdown();
  }
  return res;
}

/** Leaf edits the memory figure is taken over (issue 17: at 50 and at 100). */
const MEMORY_EDITS = 100;

/**
 * The watch's memory alone (the `watchmem` scenario): after its first build, then over 100 leaf
 * edits, without the rounds of edit-to-output and touches `watch` runs first, nor Bazel.
 */
export async function watchMemory(ctx) {
  const w = await startWatch(ctx, ctx.repo);
  try {
    const memory = { afterBuild: await memorySample(w) };
    log(`watch: after its first build: ${describe(memory.afterBuild)}; peak so far ${memory.afterBuild.hwmMiB.toFixed(1)} MiB`);
    log(`watch: memory over ${MEMORY_EDITS} edits`);
    memory.edits = await memoryOver(w, ctx, ctx.manifest.leaf, MEMORY_EDITS);
    return { memory };
  } finally {
    await w.stop();
  }
}

/** Starts the peak (VmHWM) of `pid` over from its RSS now (`clear_refs` 5); false where the kernel refuses. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * The watch's memory after each 10th of `edits` leaf edits, each waited for; at the half and at
 * the end, its peak over that half too (VmHWM, started over at the start and at the half): RSS
 * between the samples swings with V8's collections, and the peak of each half says whether it grows.
 */
async function memoryOver(w, ctx, spot, edits) {
  const samples = [];
  const windows = resetPeak(w.child.pid);
  for (let i = 1; i <= edits; i++) {
    const builds = w.last().watch.build;
    editLeaf(ctx.repo, spot);
    await until(() => w.last()?.watch?.build > builds, "the watch's report");
    if (i % 10 === 0) {
      const m = await memorySample(w);
      const half = i === edits / 2 || i === edits;
      if (half && windows) {
        m.windowPeakMiB = m.hwmMiB;
        resetPeak(w.child.pid);
      }
      samples.push({ edits: i, ...m });
      log(
        `  after ${i} edits: ${describe(m)}${m.windowPeakMiB ? `; peak over edits ${i - edits / 2 + 1}-${i}: ${m.windowPeakMiB.toFixed(1)} MiB` : ""}`,
      );
    }
  }
  return samples;
}
