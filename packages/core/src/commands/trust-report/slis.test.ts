import { describe, expect, it } from "vitest";
import type { KnownRecord } from "../record-kinds";
import { buildRecord } from "../records-testing";
import { type SliInputs, computeSlis } from "./slis";

// Each SLI's rules, one by one, over records made to show them; test/trust.test.ts computes them
// from the records real runs wrote.

const WEEKS = ["2026-W48", "2026-W49"];
const LAST_WEEK = "2026-11-25T10:00:00Z";
const THIS_WEEK = "2026-12-02T10:00:00Z";

function slis(records: KnownRecord[], more: Partial<SliInputs> = {}) {
  return computeSlis({ records, weeks: WEEKS, releaseTargets: [], trustedBuilders: [], explainedNow: [], ...more });
}

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
