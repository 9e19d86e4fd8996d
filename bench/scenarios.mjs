// The scenarios: each times hb and its floor in the same run, alternating the two where it can
// so that a noisy neighbour on the shared machine slows both sides alike.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { busyMs, timeAsync, timeCommand } from "./measure.mjs";
import { plainBuild } from "./plain-build.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);

/** `hb build //...` in the repo, timed, with the counts of its --report. */
export function hbBuild(ctx) {
  const report = join(ctx.work, "report.json");
  rmSync(report, { force: true });
  const r = timeCommand([...ctx.hb, "build", "//...", "--jobs", String(ctx.jobs), "--report", report], { cwd: ctx.repo });
  let counts = { executed: NaN, cached: NaN, failed: NaN };
  try {
    const j = JSON.parse(readFileSync(report, "utf8"));
    counts = { executed: j.executed, cached: j.cached.local + j.cached.remote, failed: j.failed };
  } catch {
    // no report: the failure below says why
  }
  if (r.status !== 0) {
    const msg = `hb build exited ${r.status}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
  }
  return { ms: r.ms, rssKb: r.rssKb, ok: r.status === 0, ...counts };
}

const rmHb = (ctx, what) => {
  for (const d of what) rmSync(join(ctx.repo, d), { recursive: true, force: true });
};

/** Runs `steps` (name -> fn) in rounds, the first round untimed, rotating the order each round. */
async function rounds(n, steps) {
  const names = Object.keys(steps);
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = -1; r < n; r++) {
    const shift = ((r % names.length) + names.length) % names.length;
    for (const k of [...names.slice(shift), ...names.slice(0, shift)]) {
      const s = await steps[k]();
      if (r >= 0) samples[k].push(s);
    }
  }
  return samples;
}

/**
 * Cold build (no .hb, no hb-out) against the plain loop, same commands, same parallelism; and
 * the same loop with each command under bwrap as hb runs it (info: what the sandbox costs).
 */
export async function coldBuild(ctx) {
  log(`cold build vs plain loop, bare and in bwrap: ${ctx.runs} runs each (+1 warm-up)`);
  const out = join(ctx.work, "plain-out");
  const inBwrap = join(ctx.work, "plain-bwrap-out");
  const sandbox = ctx.runs > 0 ? await bwrapPrefix(ctx, inBwrap) : undefined;
  const withCpu = async (step) => {
    const before = busyMs();
    const sample = await step();
    return { ...sample, busyMs: busyMs() - before };
  };
  return rounds(ctx.runs, {
    plain: () => {
      rmSync(out, { recursive: true, force: true });
      return withCpu(async () => ({
        ms: await timeAsync(() => plainBuild({ root: ctx.repo, manifest: ctx.manifest, outDir: out, jobs: ctx.jobs })),
      }));
    },
    ...(sandbox && {
      plainBwrap: () => {
        rmSync(inBwrap, { recursive: true, force: true });
        mkdirSync(inBwrap);
        // the mount point, in a workspace bound read-only
        mkdirSync(join(ctx.repo, "hb-out"), { recursive: true });
        return withCpu(async () => ({
          ms: await timeAsync(() => plainBuild({ root: ctx.repo, manifest: ctx.manifest, outDir: inBwrap, jobs: ctx.jobs, sandbox })),
        }));
      },
    }),
    hbCold: () => {
      rmHb(ctx, [".hb", "hb-out"]);
      return withCpu(async () => hbBuild(ctx));
    },
  });
}

/** bwrap's command line for the plain loop in bwrap (bench/bwrap-prefix.ts). */
async function bwrapPrefix(ctx, outDir) {
  const script = await bundleAgainstCore(ctx, "bwrap-prefix");
  const args = [script, "--workspace", ctx.repo, "--out", outDir, "--etc", join(ctx.work, "plain-bwrap-etc")];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8" }));
}

/** Every path a no-op build has to look at: BUILD files, sources, the tool, the outputs. */
function noopPaths(ctx) {
  const m = ctx.manifest;
  const paths = ["hb.config.ts", "tools/BUILD.ts", "tools/bin/esbuild"];
  for (let i = 0; i < m.n; i++) {
    paths.push(`packages/p${i}/BUILD.ts`, ...m.srcFiles.map((s) => `packages/p${i}/${s}`));
    paths.push(...m.outFiles.map((o) => `hb-out/packages/p${i}/${o}`));
  }
  return paths.map((p) => join(ctx.repo, p));
}

/** No-op rebuild against `node -e 0` and against a plain stat of every file it looks at. */
export async function noop(ctx) {
  log(`no-op: ${ctx.shortRuns} runs each (+1 warm-up)`);
  hbBuild(ctx); // the first build after a cold one re-hashes files that were racily clean then
  const list = join(ctx.work, "stat-list.txt");
  writeFileSync(list, noopPaths(ctx).join("\n") + "\n");
  return rounds(ctx.shortRuns, {
    nodeE0: () => timeCommand([process.execPath, "-e", "0"]),
    statAll: () => timeCommand([process.execPath, join(ctx.benchDir, "stat-floor.mjs"), list]),
    hbNoop: () => hbBuild(ctx),
  });
}

/** Cache restore: outputs deleted, cache kept. */
export async function restore(ctx) {
  log(`cache restore: ${ctx.runs} runs (+1 warm-up)`);
  return rounds(ctx.runs, {
    hbRestore: () => {
      rmHb(ctx, ["hb-out"]);
      return hbBuild(ctx);
    },
  });
}

let revision = 0;
/** Rewrites an edit marker with a value never used before, so the edit is never a cache hit. */
function edit(ctx, spot) {
  const file = join(ctx.repo, spot.file);
  const text = readFileSync(file, "utf8");
  const next = text.replace(new RegExp(`^export const ${spot.marker} = \\d+;`, "m"), `export const ${spot.marker} = ${++revision};`);
  if (next === text) throw new Error(`edit marker ${spot.marker} not found in ${spot.file}`);
  writeFileSync(file, next);
}

/**
 * Edit a leaf / mid / root package and rebuild. Floor: the same commands, plain, for the edited
 * package and its direct dependents, the least that early cutoff can re-run (their inputs, the
 * edited package's outputs, changed; their own outputs do not, so it stops there).
 */
export async function incremental(ctx) {
  const res = {};
  for (const where of ["leaf", "mid", "root"]) {
    const spot = ctx.manifest[where];
    const n = where === "leaf" ? ctx.shortRuns : ctx.runs;
    const packages = [spot.index, ...ctx.manifest.dependents[spot.index]];
    log(`incremental ${where} (${spot.file}, ${packages.length} packages must re-run): ${n} runs (+1 warm-up)`);
    const out = join(ctx.work, "plain-out-incr");
    res[where] = await rounds(n, {
      plain: async () => ({
        ms: await timeAsync(() => plainBuild({ root: ctx.repo, manifest: ctx.manifest, outDir: out, jobs: ctx.jobs, packages })),
      }),
      hb: () => {
        edit(ctx, spot);
        return hbBuild(ctx);
      },
    });
    res[where].mustRerun = packages.length;
  }
  return res;
}

/** Bundles bench/NAME.ts against core's sources; returns the bundle's path. */
export async function bundleAgainstCore(ctx, name) {
  const esbuild = await import("esbuild");
  // inside the repo's node_modules, so the bundle resolves better-sqlite3 like hb does
  const bundle = join(ctx.repoRoot, `node_modules/.cache/hb-bench/${name}.mjs`);
  await esbuild.build({
    entryPoints: [join(ctx.benchDir, `${name}.ts`)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["better-sqlite3", "esbuild"],
    banner: { js: "import { createRequire as __hbRequire } from 'node:module'; const require = __hbRequire(import.meta.url);" },
    logLevel: "warning",
  });
  return bundle;
}

/** Runs bench/sandbox-overhead.ts (bundled) in its own node. */
export async function sandboxOverhead(ctx) {
  log(`sandbox overhead: ${ctx.m} actions x ${ctx.sandboxRounds} rounds, hb and bare bwrap alternating`);
  const bundle = await bundleAgainstCore(ctx, "sandbox-overhead");
  const dir = join(ctx.work, "sandbox-overhead");
  rmSync(dir, { recursive: true, force: true });
  const args = [bundle, "--dir", dir, "--m", String(ctx.m), "--rounds", String(ctx.sandboxRounds)];
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 << 20 });
  if (r.status !== 0) {
    const msg = `sandbox-overhead exited ${r.status}: ${String(r.stderr).trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
    return undefined;
  }
  return JSON.parse(String(r.stdout));
}

/** Facts about the machine and tools, for the JSON. */
export function environment(ctx) {
  const sh = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "";
    }
  };
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: sh("nproc", []),
    kernel: sh("uname", ["-r"]),
    bwrap: sh("bwrap", ["--version"]),
    esbuild: sh(join(ctx.repo, "tools/bin/esbuild"), ["--version"]),
    hbCommit: sh("git", ["-C", ctx.repoRoot, "rev-parse", "--short", "HEAD"]),
  };
}
