import { describe, expect, it } from "vitest";
import type { KnownRecord } from "../record-kinds";
import type { ActionEntry } from "../run-record";
import { buildRecord } from "../records-testing";
import { type SliInputs, computeSlis } from "./slis";

// Each SLI's rules, one by one, over records made to show them; test/trust.test.ts computes them
// from the records real runs wrote.

const WEEKS = ["2026-W48", "2026-W49"];
const LAST_WEEK = "2026-11-25T10:00:00Z";
const THIS_WEEK = "2026-12-02T10:00:00Z";

function slis(records: KnownRecord[], more: Partial<SliInputs> = {}) {
  return computeSlis({ records, weeks: WEEKS, trustedBuilders: [], explainedNow: [], ...more });
}

/** //app:pkg is the release target, made from //app:gen. */
const RELEASE = {
  labels: new Set(["//app:pkg"]),
  closure: new Set(["//app:pkg", "//app:gen", "//app:src.txt"]),
  outputs: ["hb-out/app/pkg.txt"],
};

const action = (label: string, fields: Partial<ActionEntry> = {}): ActionEntry => ({
  label,
  mnemonic: "Genrule",
  status: "executed",
  sandbox: "default",
  durationMs: 5,
  outputs: [],
  ...fields,
});

describe("hermetic violations", () => {
  it("count the unsandboxed actions of a release build that are in the release closure, not the others it built", () => {
    const s = slis(
      [
        buildRecord(THIS_WEEK, {
          targets: [
            { label: "//app:pkg", outputs: [] },
            { label: "//tools:t", outputs: [] },
          ],
          actionList: [action("//app:pkg"), action("//app:gen", { sandbox: "none" }), action("//tools:t", { sandbox: "none" })],
        }),
      ],
      { release: RELEASE },
    ).hermeticViolations;
    expect(s.weeks[1]).toMatchObject({ value: 1, unsandboxedInRelease: 1 });
  });
});

describe("remote cache correctness incidents", () => {
  it("count the entries refused for a correctness reason, not those of another hb's semantics or evicted from the server", () => {
    const s = slis([
      buildRecord(THIS_WEEK, {
        remote: {
          url: "http://cache",
          hits: 0,
          misses: 4,
          bytesDownloaded: 0,
          bytesUploaded: 0,
          uploads: 0,
          rejected: { untrusted: 1, "corrupt-blob": 1, "stale-version": 3, "missing-blob": 2 },
        },
      }),
      buildRecord(LAST_WEEK, {
        remote: {
          url: "http://cache",
          hits: 0,
          misses: 1,
          bytesDownloaded: 0,
          bytesUploaded: 0,
          uploads: 0,
          rejected: { "stale-version": 1 },
        },
      }),
    ]).cacheIncidents;
    expect(s.weeks).toEqual([
      { week: "2026-W48", value: 0, refused: {}, localCorruption: 0 },
      { week: "2026-W49", value: 2, refused: { untrusted: 1, "corrupt-blob": 1 }, localCorruption: 0 },
    ]);
  });
});
