import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../../test/helpers";
import { isKnownRecord, readRunRecords } from "./record-kinds";
import { attestVerifyRecord, buildRecord, explainRecord, gateRecord, verifyRecord } from "./records-testing";
import { RECORDS_FILE } from "./run-record";

const lines = (records: readonly object[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

describe("reading run records", () => {
  it("from many machines merges them by id, each once, oldest first; lines that are not records are skipped and counted", () => {
    const ci = tempDir();
    const laptop = tempDir();
    const shared = { ...buildRecord("2026-12-01T10:00:00Z"), n: 1 };
    const ciOnly = { ...buildRecord("2026-12-02T10:00:00Z"), n: 2 };
    const laptopOnly = { ...buildRecord("2026-11-30T10:00:00Z"), n: 0 };
    mkdirSync(join(ci, "artifacts"));
    writeFileSync(join(ci, "artifacts", "a.jsonl"), lines([shared, ciOnly]) + "not json\n{}\n");
    writeFileSync(join(laptop, RECORDS_FILE), lines([laptopOnly, shared]));
    const read = readRunRecords(laptop, [join(ci, "artifacts")]);
    expect(read.records.map((r) => (r as { n?: number }).n)).toEqual([0, 1, 2]);
    expect(read.skipped).toBe(2);
  });

  it("refuses a run source it cannot read, naming it, and reads only the files of a directory", () => {
    const runs = tempDir();
    expect(() => readRunRecords(tempDir(), [join(runs, "missing")])).toThrow(
      expect.objectContaining({ code: "UNREADABLE_FILE", message: expect.stringContaining(`${join(runs, "missing")}: ENOENT`) }),
    );
    // an output base with no records yet is no error: nothing was recorded there
    expect(readRunRecords(join(runs, "fresh-output-base"))).toEqual({ records: [], skipped: 0 });
    mkdirSync(join(runs, "run-1.json"));
    writeFileSync(join(runs, "run-2.json"), JSON.stringify(buildRecord("2026-12-01T10:00:00Z")));
    expect(readRunRecords(tempDir(), [runs]).records).toHaveLength(1);
  });

  it("checks each kind's fields: a record with the right header and a field missing or mistyped is left out, not read", () => {
    const at = "2026-12-01T10:00:00Z";
    const valid = [
      buildRecord(at, { actionList: [{ label: "//a:b", mnemonic: "Genrule", status: "executed", durationMs: 5, outputs: [] }] }),
      verifyRecord(at),
      gateRecord(at),
      attestVerifyRecord(at),
      explainRecord(at),
    ];
    for (const r of valid) expect(isKnownRecord(JSON.parse(JSON.stringify(r))), r.command).toBe(true);
    const broken: object[] = [
      { ...buildRecord(at), actionList: undefined },
      { ...buildRecord(at), actionList: [{ label: "//a:b", mnemonic: "Genrule", status: "executed", durationMs: "5", outputs: [] }] },
      { ...buildRecord(at), actionList: [{ label: "//a:b", mnemonic: "Genrule", status: "teleported", durationMs: 5, outputs: [] }] },
      { ...buildRecord(at), cached: { local: 1 } },
      { ...buildRecord(at), targets: [{ label: "//a:b", outputs: [{ path: "hb-out/a/b" }] }] },
      { ...buildRecord(at), remote: { rejected: { untrusted: "1" } } },
      { ...buildRecord(at), durationMs: null },
      { ...buildRecord(at), startedAt: "yesterday" },
      { ...buildRecord(at), command: "deploy" },
      { ...verifyRecord(at), targets: [{ label: "//a:b", status: "reproducible" }] },
      { ...gateRecord(at), artifacts: [{ artifact: "x", sha256: "a", checks: "all passed" }] },
      { ...attestVerifyRecord(at), agreeing: "2" },
      { ...explainRecord(at), complete: "yes" },
      { ...explainRecord(at), schemaVersion: 2 },
    ];
    for (const r of broken) expect(isKnownRecord(JSON.parse(JSON.stringify(r))), JSON.stringify(r)).toBe(false);
    const dir = tempDir();
    writeFileSync(join(dir, RECORDS_FILE), lines([...valid, ...broken]));
    expect(readRunRecords(dir)).toMatchObject({ records: valid.map((r) => ({ id: r.id })), skipped: broken.length });
  });
});
