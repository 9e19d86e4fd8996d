// `hb verify`'s cost on examples/basic against the cold builds it stands for, in the same run:
// the issue allows runs x (cold build) + 10%, the comparison itself being streaming and linear.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { timeCommand } from "./measure.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);

/** A workspace of its own holding a copy of examples/basic, so the repo's own .hb is untouched. */
function exampleWorkspace(ctx) {
  const ws = join(ctx.work, "verify-ws");
  rmSync(ws, { recursive: true, force: true });
  mkdirSync(ws, { recursive: true });
  writeFileSync(join(ws, "hb.config.ts"), "export default {};\n");
  cpSync(join(ctx.repoRoot, "examples/basic"), join(ws, "examples/basic"), { recursive: true });
  return ws;
}

export async function verifyCost(ctx) {
  const runs = 2;
  const ws = exampleWorkspace(ctx);
  const pattern = "//examples/basic/...";
  const samples = { cold: [], verify: [], runs };
  const failed = (what, r) => {
    const msg = `${what} exited ${r.status}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
  };
  log(`verify on examples/basic (--runs ${runs}) against its cold build: ${ctx.shortRuns} rounds (+1 warm-up)`);
  for (let round = -1; round < ctx.shortRuns; round++) {
    const clean = () => {
      for (const d of [".hb", "hb-out"]) rmSync(join(ws, d), { recursive: true, force: true });
    };
    clean();
    const cold = timeCommand([...ctx.hb, "build", pattern], { cwd: ws });
    if (cold.status !== 0) failed("hb build", cold);
    clean(); // verify pays for its own analysis, as the cold build did
    const verify = timeCommand([...ctx.hb, "verify", pattern, "--runs", String(runs)], { cwd: ws });
    if (verify.status !== 0) failed("hb verify", verify);
    if (round >= 0) (samples.cold.push({ ms: cold.ms }), samples.verify.push({ ms: verify.ms }));
  }
  rmSync(ws, { recursive: true, force: true });
  return samples;
}
