// The watch figures: edit-to-output of a leaf edit under `hb watch` against Bazel 4.2's
// incremental leaf build with a warm server (and beside `hb build` after the same edit), the CPU
// a touch or a same-bytes save costs the watch, and the watch's memory over 100 edits.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

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
  const child = spawn(ctx.hb[0], [...ctx.hb.slice(1), "watch", "//...", "--jobs", String(ctx.jobs), "--report", report], {
    cwd: repo,
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
    log("watch: memory over 100 edits");
    res.rss = await memoryOver(w, ctx, spot, 100);
  } finally {
    await w.stop();
    bazel?.shutdown();
  }
  return res;
}

/** VmRSS of the watch after each 10th of `edits` leaf edits, each waited for. */
async function memoryOver(w, ctx, spot, edits) {
  const samples = [];
  for (let i = 1; i <= edits; i++) {
    const builds = w.last().watch.build;
    editLeaf(ctx.repo, spot);
    await until(() => w.last()?.watch?.build > builds, "the watch's report");
    if (i % 10 === 0) samples.push({ edits: i, rssMiB: rssMiB(w.child.pid) });
  }
  return samples;
}
