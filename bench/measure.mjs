// Timing a command from the outside, as a user sees it: wall clock around the whole process,
// and its peak memory from /usr/bin/time when the machine has it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const TIME = "/usr/bin/time";
const HAS_TIME = existsSync(TIME);

/**
 * CPU time the whole machine has spent busy (user, nice, system, irq, softirq) since boot, in
 * ms: the difference over a run is what it cost all cores, which a noisy neighbour's steal
 * time moves much less than the wall clock.
 */
export function busyMs() {
  const [user, nice, system, , , irq, softirq] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // USER_HZ: 100 on Linux
  return (user + nice + system + irq + softirq) * 10;
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Flushes dirty pages, so the previous run's writeback does not land in the next timed window. */
export function sync() {
  spawnSync("sync");
}

/**
 * Runs argv (after a sync) and returns { ms, rssKb, status, stderr }. Both sides of a ratio
 * go through this, so /usr/bin/time's own fork and exec (about 1 ms) weighs on both alike.
 */
export function timeCommand(argv, { cwd, env } = {}) {
  const rssFile = join(tmpdir(), `hb-bench-rss-${process.pid}`);
  const full = HAS_TIME ? [TIME, "-f", "%M", "-o", rssFile, ...argv] : argv;
  sync();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { cwd, env, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let rssKb = NaN;
  if (HAS_TIME && existsSync(rssFile)) {
    rssKb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
    rmSync(rssFile, { force: true });
  }
  return { ms, rssKb, status: r.status, stderr: String(r.stderr ?? "") };
}

/** Times an async function (already in this process: no start-up cost), after a sync. */
export async function timeAsync(fn) {
  sync();
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
