// Remote execution's cost (issue 22): the generated monorepo built through `hb cache serve`'s
// REAPI executor on this machine (-j 8, the server running 2 actions at a time, as many as the
// cores) against the local cold build, in the same run. There is no speed-up to expect on one
// machine: the figure is the overhead per action. Beside it, the bytes a cold remote build
// uploads and a second build from an empty output base uploads (nothing: the inputs are there).
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startProcess, stopProcess } from "./cache-server.mjs";
import { timeCommand } from "./measure.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);

/** A copy of the generated repo without hb's state, so the scenario's builds start from nothing. */
function workspaceCopy(ctx, name) {
  const ws = join(ctx.work, name);
  rmSync(ws, { recursive: true, force: true });
  cpSync(ctx.repo, ws, { recursive: true, filter: (src) => !/\/(\.hb|hb-out)$/.test(src) });
  return ws;
}

/** Builds //... in `ws` from an empty output base; the report's figures, and each target's outputs. */
function build(ctx, ws, extra) {
  for (const d of [".hb", "hb-out"]) rmSync(join(ws, d), { recursive: true, force: true });
  const report = join(ws, "report.json");
  rmSync(report, { force: true });
  const r = timeCommand([...ctx.hb, "build", "//...", "--report", report, ...extra], { cwd: ws });
  if (r.status !== 0) {
    const msg = `hb build ${extra.join(" ")} exited ${r.status}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
    return { ms: r.ms, ok: false };
  }
  const j = JSON.parse(readFileSync(report, "utf8"));
  return {
    ms: r.ms,
    ok: true,
    executed: j.executed,
    remoteExecuted: j.remote?.executed ?? 0,
    bytesUploaded: j.remote?.bytesUploaded ?? 0,
    outputs: JSON.stringify(j.targets.map((t) => [t.label, t.outputs.map((o) => [o.path, o.sha256])])),
  };
}

export async function remoteExecution(ctx) {
  const local = workspaceCopy(ctx, "reapi-local");
  const remote = workspaceCopy(ctx, "reapi-remote");
  const samples = { local: [], remote: [], warm: [], actions: ctx.manifest.n, sameOutputs: true };
  log(`remote execution through hb cache serve (-j 8, 2 workers) vs the local cold build: ${ctx.runs} rounds (+1 warm-up)`);
  for (let round = -1; round < ctx.runs; round++) {
    const store = join(ctx.work, "reapi-store");
    rmSync(store, { recursive: true, force: true });
    mkdirSync(store, { recursive: true });
    const serve = [...ctx.hb, "cache", "serve", "--dir", store, "--port", "0", "--grpc-port", "0", "--workers", "2"];
    const server = await startProcess(serve, "hb cache serve", /grpc:\/\/127\.0\.0\.1:\d+/);
    try {
      const here = build(ctx, local, ["--jobs", String(ctx.jobs)]);
      const there = build(ctx, remote, ["--remote-executor", server.url, "-j", "8"]);
      // a second workspace's build (an empty output base) against the same server: its inputs are there already
      const again = build(ctx, remote, ["--remote-executor", server.url, "-j", "8"]);
      if (here.ok && there.ok && (here.outputs !== there.outputs || there.outputs !== again.outputs)) {
        samples.sameOutputs = false;
        ctx.failures.push("remote execution: the targets' outputs differ from the local build's");
      }
      if (round >= 0) {
        samples.local.push({ ms: here.ms });
        samples.remote.push({ ms: there.ms, bytesUploaded: there.bytesUploaded, remoteExecuted: there.remoteExecuted });
        samples.warm.push({ ms: again.ms, bytesUploaded: again.bytesUploaded, remoteExecuted: again.remoteExecuted });
      }
    } finally {
      await stopProcess(server.child);
    }
  }
  for (const d of [local, remote, join(ctx.work, "reapi-store")]) rmSync(d, { recursive: true, force: true });
  return samples;
}
