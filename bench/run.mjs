#!/usr/bin/env node
// run.mjs — `npm run bench`: hb's performance figures on a generated monorepo, each a ratio to
// a floor measured in the same run (the machine is shared and noisy), as medians. It reports;
// it is not a test: it exits 0 even when a figure fails (non-zero only if it cannot run at all).
//
// Usage: node bench/run.mjs [--work DIR] [--n 200] [--f 10] [--runs 3] [--short-runs 10]
//                           [--m 200] [--sandbox-rounds 5] [--jobs 2] [--json FILE]
//                           [--scenarios cold,noop,restore,incremental,watch,watchmem,sandbox,verify,reapi,server,stress,trust]
//   --runs        timed runs of the long scenarios (cold, plain loop, restore, mid/root edits)
//   --short-runs  timed runs of the short ones (no-op and its floors, leaf edit)
//   --m           actions in the sandbox-overhead graph
//   --work        where the monorepo is generated (kept); default: a temp dir, removed after
//   watchmem      the watch's memory alone (what `watch` measures last), without Bazel: the issue's
//                 figure is `--scenarios watchmem --n 600 --f 5`
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { figures, table } from "./figures.mjs";
import { generate } from "./gen-monorepo.mjs";
import { cacheServer, serverStress } from "./cache-server.mjs";
import { coldBuild, environment, incremental, noop, restore, sandboxOverhead } from "./scenarios.mjs";
import { trustCost } from "./trust-cost.mjs";
import { verifyCost } from "./verify-cost.mjs";
import { remoteExecution } from "./reapi.mjs";
import { watchMemory, watchScenario } from "./watch.mjs";

const SCENARIOS = [
  "cold",
  "noop",
  "restore",
  "incremental",
  "watch",
  "watchmem",
  "sandbox",
  "verify",
  "reapi",
  "server",
  "stress",
  "trust",
];

function parseArgs(argv) {
  const o = { work: "", n: 200, f: 10, runs: 3, shortRuns: 10, m: 200, sandboxRounds: 5, jobs: 2, json: "", scenarios: SCENARIOS };
  const num = {
    "--n": "n",
    "--f": "f",
    "--runs": "runs",
    "--short-runs": "shortRuns",
    "--m": "m",
    "--sandbox-rounds": "sandboxRounds",
    "--jobs": "jobs",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    if (a in num) o[num[a]] = parseInt(v(), 10);
    else if (a === "--work") o.work = v();
    else if (a === "--json") o.json = v();
    else if (a === "--scenarios") o.scenarios = v().split(",");
    else throw new Error(`unknown argument ${a} (see the head of bench/run.mjs)`);
  }
  for (const s of o.scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(", ")}`);
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const benchDir = dirname(fileURLToPath(import.meta.url));
  const repoRoot = join(benchDir, "..");
  const work = o.work || mkdtempSync(join(tmpdir(), "hb-bench-"));
  const repo = join(work, "repo");
  const manifest = generate({ out: repo, n: o.n, f: o.f, force: true });
  process.stderr.write(`[bench] ${manifest.n} packages x ${manifest.f} files, ${manifest.edges} edges, in ${repo}\n`);
  const ctx = {
    ...o,
    work,
    repo,
    manifest,
    benchDir,
    repoRoot,
    failures: [],
    hb: [process.execPath, join(repoRoot, "packages/cli/bin/hb.js")],
  };
  const has = (s) => o.scenarios.includes(s);
  const results = {
    env: environment(ctx),
    options: o,
    manifest: { n: manifest.n, f: manifest.f, edges: manifest.edges, leaf: manifest.leaf, mid: manifest.mid, root: manifest.root },
  };
  // order matters: no-op, restore and edits start from the full build the cold scenario leaves
  if (has("cold") || has("noop") || has("restore") || has("incremental") || has("watch") || has("watchmem") || has("trust")) {
    results.cold = await coldBuild({ ...ctx, runs: has("cold") ? o.runs : 0 });
    if (!has("cold")) delete results.cold;
  }
  if (has("noop")) results.noop = await noop(ctx);
  if (has("restore")) results.restore = await restore(ctx);
  if (has("incremental")) results.incremental = await incremental(ctx);
  if (has("watch")) results.watch = await watchScenario(ctx);
  // the watch's memory alone, unless the full watch scenario measured it already
  else if (has("watchmem")) results.watch = await watchMemory(ctx);
  if (has("sandbox")) results.sandbox = await sandboxOverhead(ctx);
  if (has("verify")) results.verify = await verifyCost(ctx);
  if (has("reapi")) results.reapi = await remoteExecution(ctx);
  if (has("server")) results.server = await cacheServer(ctx);
  if (has("stress")) results.stress = await serverStress(ctx);
  // last: it writes a release setting into the repo's hb.config.ts for its explain (and puts it back)
  if (has("trust")) results.trust = await trustCost(ctx);
  results.failures = ctx.failures;
  results.figures = figures(results);

  console.log(
    `hb bench: ${manifest.n} packages x ${manifest.f} files, --jobs ${o.jobs}, ${results.env.date}, ${results.env.cpus} cpus, node ${results.env.node}, hb ${results.env.hbCommit}`,
  );
  console.log(table(results.figures));
  for (const f of ctx.failures) console.log(`hb failure: ${f}`);
  if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2) + "\n");
  if (!o.work) rmSync(work, { recursive: true, force: true });
}

await main();
