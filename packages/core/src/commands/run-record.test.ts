import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../../test/helpers";
import { RECORDS_FILE, type RunRecord, appendRunRecord, readRunRecords, recordHeader, rotateRecords } from "./run-record";

const at = (iso: string, extra: object = {}): RunRecord => ({ ...recordHeader("build", "/nonexistent", Date.parse(iso)), ...extra });

describe("run records", () => {
  it("are appended one JSON line each, and rotate the oldest out past the size or age limit", () => {
    const base = tempDir();
    const limits = { maxAgeDays: 30, maxBytes: 4000 };
    const now = Date.now();
    for (let i = 0; i < 40; i++) appendRunRecord(base, at(new Date(now - (40 - i) * 1000).toISOString(), { n: i }), limits);
    const kept = readRunRecords([join(base, RECORDS_FILE)]) as (RunRecord & { n: number })[];
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(40);
    // the newest kept, in order, and the file never over its limit
    expect(kept.map((r) => r.n)).toEqual(Array.from({ length: kept.length }, (_, i) => 40 - kept.length + i));
    expect(readFileSync(join(base, RECORDS_FILE)).length).toBeLessThanOrEqual(limits.maxBytes);
    // by age: records older than the limit go at the next append
    const file = join(base, RECORDS_FILE);
    writeFileSync(
      file,
      [at("2020-01-01T00:00:00Z", { n: -1 }), at(new Date(now).toISOString(), { n: 99 })].map((r) => JSON.stringify(r) + "\n").join(""),
    );
    rotateRecords(file, limits, now);
    expect((readRunRecords([file]) as (RunRecord & { n: number })[]).map((r) => r.n)).toEqual([99]);
  });

  it("from many machines merge by id, each once, oldest first; lines that are not records are skipped", () => {
    const ci = tempDir();
    const laptop = tempDir();
    const shared = at("2026-12-01T10:00:00Z", { n: 1 });
    const ciOnly = at("2026-12-02T10:00:00Z", { n: 2 });
    const laptopOnly = at("2026-11-30T10:00:00Z", { n: 0 });
    mkdirSync(join(ci, "artifacts"));
    writeFileSync(join(ci, "artifacts", "a.jsonl"), [shared, ciOnly].map((r) => JSON.stringify(r)).join("\n") + "\nnot json\n{}\n");
    writeFileSync(join(laptop, RECORDS_FILE), [laptopOnly, shared].map((r) => JSON.stringify(r)).join("\n") + "\n");
    const all = readRunRecords([join(ci, "artifacts"), join(laptop, RECORDS_FILE), join(laptop, "missing.jsonl")]) as (RunRecord & {
      n: number;
    })[];
    expect(all.map((r) => r.n)).toEqual([0, 1, 2]);
  });
});
