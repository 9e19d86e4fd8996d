// The trust loop's costs, in the same run as their floors: what recording adds to a no-op build
// (record-cost.ts, in one process), `hb report` over 100,000 recorded actions, and `hb explain`
// of a release artifact whose provenance a trusted builder signed.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { timeCommand } from "./measure.mjs";
import { bundleAgainstCore } from "./scenarios.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);

const failed = (ctx, what, r) => {
  const msg = `${what} exited ${r.status}: ${String(r.stderr).trim().split("\n").slice(-5).join(" | ")}`;
  log(msg);
  ctx.failures.push(msg);
};

/** The full build's record of the repo (one entry per action): the newest build record listing every action. */
function fullBuildRecord(ctx) {
  const lines = readFileSync(join(ctx.repo, ".hb/records.jsonl"), "utf8").split("\n").filter(Boolean);
  const records = lines.map((l) => JSON.parse(l)).filter((r) => r.command === "build" && r.actionList.length === ctx.manifest.n);
  return records[records.length - 1];
}

/** Records of `actions` actions in all, copies of `record` spread over the last 8 weeks, in one file of `dir`. */
function syntheticRuns(record, actions, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const copies = Math.ceil(actions / record.actionList.length);
  const now = Date.now();
  const span = 8 * 7 * 86_400_000;
  const lines = [];
  for (let i = 0; i < copies; i++) {
    const startedAt = new Date(now - span + Math.floor((span * i) / copies)).toISOString();
    lines.push(JSON.stringify({ ...record, id: `bench-${i}`, startedAt }));
  }
  writeFileSync(join(dir, "runs.jsonl"), lines.join("\n") + "\n");
  return copies * record.actionList.length;
}

export async function trustCost(ctx) {
  const res = {};
  // 1. recording a no-op build
  const noopReport = join(ctx.work, "noop-report.json");
  const noop = timeCommand([...ctx.hb, "build", "//...", "--jobs", String(ctx.jobs), "--report", noopReport], { cwd: ctx.repo });
  if (noop.status !== 0) return failed(ctx, "hb build (no-op)", noop);
  const bundle = await bundleAgainstCore(ctx, "record-cost");
  // the commit is read from hb's own checkout: the generated repo is not a git repository
  log("recording a no-op build's record: 200 appends, and the same bytes appended bare");
  const rc = spawnSync(process.execPath, [bundle, "--dir", join(ctx.work, "record-cost"), "--root", ctx.repoRoot, "--record", noopReport], {
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 << 20,
  });
  if (rc.status !== 0) return failed(ctx, "record-cost", rc);
  res.record = JSON.parse(String(rc.stdout));

  // 2. hb report over 100,000 recorded actions, against reading and parsing the same file
  const record = fullBuildRecord(ctx);
  if (!record)
    return failed(ctx, "hb report", {
      status: "-",
      stderr: "no record of a full build in .hb/records.jsonl (run the cold scenario first)",
    });
  const runs = join(ctx.work, "runs");
  res.reportActions = syntheticRuns(record, 100_000, runs);
  log(`hb report over ${res.reportActions} recorded actions (${ctx.runs} runs), against JSON.parse of every line`);
  const parseAll = `const fs=require("fs");let n=0;for(const l of fs.readFileSync(${JSON.stringify(join(runs, "runs.jsonl"))},"utf8").split("\\n"))if(l)n+=JSON.parse(l).actionList.length;if(!n)process.exit(1)`;
  res.report = { hb: [], parse: [] };
  for (let r = -1; r < ctx.runs; r++) {
    const hb = timeCommand([...ctx.hb, "report", "--runs", runs, "--since", "8w", "--output", "json"], { cwd: ctx.repo });
    if (hb.status !== 0) return failed(ctx, "hb report", hb);
    const parse = timeCommand([process.execPath, "-e", parseAll]);
    if (r >= 0) (res.report.hb.push({ ms: hb.ms }), res.report.parse.push({ ms: parse.ms }));
  }

  // 3. hb explain of a release artifact, its provenance signed by the one trusted builder
  const config = join(ctx.repo, "hb.config.ts");
  const keys = join(ctx.work, "keys");
  const kg = timeCommand([...ctx.hb, "keygen", "--out", keys], { cwd: ctx.work });
  if (kg.status !== 0) return failed(ctx, "hb keygen", kg);
  const before = readFileSync(config, "utf8");
  const releasePkg = ctx.manifest.leaf.package;
  try {
    mkdirSync(join(ctx.repo, "keys"), { recursive: true });
    copyFileSync(join(keys, "public.pem"), join(ctx.repo, "keys/bench.pem"));
    writeFileSync(
      config,
      `export default { release: { targets: [${JSON.stringify(releasePkg)}], policy: { builders: { "urn:hb:bench": ["keys/bench.pem"] } } } };\n`,
    );
    const signed = timeCommand(
      [
        ...ctx.hb,
        "build",
        releasePkg,
        "--provenance",
        "--signing-key",
        join(keys, "private.pem"),
        "--builder-id",
        "urn:hb:bench",
        "--allow-dirty",
      ],
      {
        cwd: ctx.repo,
      },
    );
    if (signed.status !== 0) return failed(ctx, "hb build --provenance", signed);
    const artifact = join("hb-out", ctx.manifest.leaf.dir, "dist/index.js");
    log(`hb explain ${artifact} (${ctx.shortRuns} runs), against node -e 0`);
    res.explain = { hb: [], node: [] };
    for (let r = -1; r < ctx.shortRuns; r++) {
      const ex = timeCommand([...ctx.hb, "explain", artifact, "--output", "json"], { cwd: ctx.repo });
      if (ex.status !== 0) return failed(ctx, "hb explain", ex);
      const node = timeCommand([process.execPath, "-e", "0"]);
      if (r >= 0) (res.explain.hb.push({ ms: ex.ms }), res.explain.node.push({ ms: node.ms }));
    }
  } finally {
    writeFileSync(config, before);
    rmSync(join(ctx.repo, "keys"), { recursive: true, force: true });
  }
  return res;
}
