// record-cost.ts — what writing a run record adds to a no-op build, measured in one process so
// that Node's start-up and the build itself are not part of it.
//
// hb: what a no-op build does to record itself: the record's header (an id, the workspace's
// commit read from .git, the builder) joined to the build's report, appended to the records
// file, and the check whether the file must rotate (its size, its first record's date).
// floor: appending the same record's bytes to a file of its own (info: what any record costs).
// The record is the one a real no-op build of the bench's monorepo wrote (its --report).
//
// Usage (bundled by bench/run.mjs): node record-cost.mjs --dir DIR --root WORKSPACE --record FILE [--rounds 200]
// Prints one JSON object on stdout.

import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { appendRunRecord, recordHeader } from "@hb/core/engine";

const args = process.argv.slice(2);
const arg = (name: string, dflt?: string): string => {
  const i = args.indexOf(name);
  const v = i >= 0 ? args[i + 1] : dflt;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
};
const dir = arg("--dir");
const root = arg("--root");
const rounds = Number(arg("--rounds", "200"));
const {
  schemaVersion: _v,
  id: _id,
  command: _c,
  startedAt: _s,
  durationMs: _d,
  workspace: _w,
  builderId: _b,
  ...body
} = JSON.parse(readFileSync(arg("--record"), "utf8")) as Record<string, unknown>;

rmSync(dir, { recursive: true, force: true });
const base = join(dir, "base");
mkdirSync(base, { recursive: true });
const floorFile = join(dir, "floor.jsonl");
const samples = { hb: [] as number[], floor: [] as number[] };
for (let r = -10; r < rounds; r++) {
  const started = Date.now();
  const t0 = performance.now();
  appendRunRecord(base, { ...recordHeader("build", root, started), ...body });
  const t1 = performance.now();
  appendFileSync(floorFile, `${JSON.stringify({ ...body, id: String(r) })}\n`);
  const t2 = performance.now();
  if (r >= 0) (samples.hb.push(t1 - t0), samples.floor.push(t2 - t1));
}
process.stdout.write(JSON.stringify(samples));
