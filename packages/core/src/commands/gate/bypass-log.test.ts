import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BYPASS_LOG, type BypassRecord, closeBypass, openBypasses, recordBypass } from "./bypass-log";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function base(): string {
  const d = mkdtempSync(join(tmpdir(), "hb-bypass-"));
  dirs.push(d);
  return d;
}

const bypass = (id: string, at: string): BypassRecord => ({
  version: 1,
  type: "bypass",
  id,
  reason: "CVE hotfix",
  at,
  sourceCommit: "0".repeat(40),
  artifacts: [{ artifact: "hb-out/app/package.tgz", sha256: "a".repeat(64), failedChecks: ["corroboration"] }],
});

describe("the bypass log", () => {
  it("keeps a bypass open until a postmortem closes it, and only then", () => {
    const dir = base();
    recordBypass(dir, bypass("INC-1", "2024-05-01T10:00:00.000Z"));
    recordBypass(dir, bypass("INC-2", "2024-05-02T10:00:00.000Z"));
    expect(openBypasses(dir).map((b) => b.id)).toEqual(["INC-1", "INC-2"]);
    expect(() => closeBypass(dir, "INC-1", "not a url")).toThrow(/--postmortem must be the postmortem's http\(s\) address/);
    expect(() => closeBypass(dir, "INC-3", "https://wiki/pm")).toThrow(/no open bypass 'INC-3'/);
    closeBypass(dir, "INC-1", "https://wiki.example.com/pm/1", new Date("2024-05-03T00:00:00Z"));
    expect(openBypasses(dir).map((b) => b.id)).toEqual(["INC-2"]);
    expect(() => closeBypass(dir, "INC-1", "https://wiki.example.com/pm/1")).toThrow(/no open bypass 'INC-1'/);
    // the log is appended to, never rewritten: every record stays
    const lines = readFileSync(join(dir, BYPASS_LOG), "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).type)).toEqual(["bypass", "bypass", "close"]);
    expect(JSON.parse(lines[2]!)).toEqual({
      version: 1,
      type: "close",
      id: "INC-1",
      postmortem: "https://wiki.example.com/pm/1",
      at: "2024-05-03T00:00:00.000Z",
    });
    // the same incident bypassing again later is open again
    recordBypass(dir, bypass("INC-1", "2024-05-04T10:00:00.000Z"));
    expect(openBypasses(dir).map((b) => b.id)).toEqual(["INC-2", "INC-1"]);
  });

  it("reads an absent log as empty and passes over lines that are not its records", () => {
    const dir = base();
    expect(openBypasses(dir)).toEqual([]);
    appendFileSync(join(dir, BYPASS_LOG), "not json\n{}\n");
    recordBypass(dir, bypass("INC-1", "2024-05-01T10:00:00.000Z"));
    expect(openBypasses(dir).map((b) => b.id)).toEqual(["INC-1"]);
  });

  it("refuses an id that is not an incident id", () => {
    expect(() => closeBypass(base(), "two words", "https://wiki/pm")).toThrow(/is not an incident ticket id/);
  });
});
