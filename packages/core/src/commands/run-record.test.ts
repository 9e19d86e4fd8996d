import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../../test/helpers";
import { readRunRecords } from "./record-kinds";
import { buildRecord } from "./records-testing";
import { RECORDS_FILE, appendRunRecord, rotateRecords } from "./run-record";

/** The marker of each record of the output base, in order. */
const marks = (base: string) => readRunRecords(base).records.map((r) => (r as { n?: number }).n);

describe("run records", () => {
  it("are appended one JSON line each, and rotate the oldest out past the size or age limit", () => {
    const base = tempDir();
    const limits = { maxAgeDays: 30, maxBytes: 4000 };
    const now = Date.now();
    for (let i = 0; i < 40; i++) {
      const record = { ...buildRecord(new Date(now - (40 - i) * 1000).toISOString()), n: i };
      appendRunRecord(base, record, limits);
    }
    const file = join(base, RECORDS_FILE);
    const kept = marks(base);
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(40);
    // the newest kept, in order, and the file never over its limit
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 40 - kept.length + i));
    expect(readFileSync(file).length).toBeLessThanOrEqual(limits.maxBytes);
    // by age: records older than the limit go at the next append
    writeFileSync(
      file,
      [
        { ...buildRecord("2020-01-01T00:00:00Z"), n: -1 },
        { ...buildRecord(new Date(now).toISOString()), n: 99 },
      ]
        .map((r) => JSON.stringify(r) + "\n")
        .join(""),
    );
    rotateRecords(file, limits, now);
    expect(marks(base)).toEqual([99]);
  });

  it("rotate a line at a time: records longer than a read, across its ends, blank and torn lines dropped", () => {
    const base = tempDir();
    const file = join(base, RECORDS_FILE);
    const now = Date.now();
    const line = (n: number, pad: number) =>
      JSON.stringify({ ...buildRecord(new Date(now - (10 - n) * 1000).toISOString()), n, pad: "é".repeat(pad) });
    // records of 0.3 to 1.5 MiB (reads are 1 MiB), a blank line, a record torn by a crash, and a last line without its newline
    const lines = [line(0, 700_000), line(1, 150_000), "", line(2, 800_000), line(3, 10).slice(0, 50) + line(4, 400_000), line(5, 200_000)];
    writeFileSync(file, lines.join("\n"));
    rotateRecords(file, { maxAgeDays: 30, maxBytes: 8 * 1024 * 1024 }, now);
    expect(marks(base)).toEqual([0, 1, 2, 5]);
    expect(readFileSync(file, "utf8")).toBe([0, 1, 3, 5].map((i) => lines[i] + "\n").join(""));
    // the budget counts bytes: 2 bytes an é
    rotateRecords(file, { maxAgeDays: 30, maxBytes: 2 * (1_600_000 + 400_000 + 2000) }, now);
    expect(marks(base)).toEqual([2, 5]);
  });

  it("keep the newest record at rotation, though it is past the size or age limit alone", () => {
    const limits = { maxAgeDays: 30, maxBytes: 4000 };
    const big = tempDir();
    const now = new Date().toISOString();
    const marked = (iso: string, n: number, more: object = {}) => ({ ...buildRecord(iso), n, ...more });
    appendRunRecord(big, marked(now, 0), limits);
    // larger than the size limit alone, as the record of a build of many actions may be
    appendRunRecord(big, marked(now, 1, { pad: "x".repeat(4000) }), limits);
    expect(marks(big)).toEqual([1]);
    // started before the age limit, as the record of a machine whose clock is behind does
    const old = tempDir();
    appendRunRecord(old, marked("2020-01-01T00:00:00Z", 2), limits);
    expect(marks(old)).toEqual([2]);
  });

  it("drop at rotation a line a crash cut short, and keep the whole ones around it", () => {
    const base = tempDir();
    const file = join(base, RECORDS_FILE);
    const now = Date.now();
    const [a, torn, b] = [0, 1, 2].map((n) => JSON.stringify({ ...buildRecord(new Date(now - 1000 + n).toISOString()), n }));
    writeFileSync(file, `${a}\n${torn!.slice(0, -5)}\n${b}\n`);
    rotateRecords(file, { maxAgeDays: 30, maxBytes: 1_000_000 }, now);
    expect(marks(base)).toEqual([0, 2]);
    expect(readFileSync(file, "utf8")).toBe(`${a}\n${b}\n`);
  });
});
