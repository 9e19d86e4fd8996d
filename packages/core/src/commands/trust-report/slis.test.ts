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
  return computeSlis({ records, weeks: WEEKS, trustedBuilders: new Map(), explainedNow: [], ...more });
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

describe("provenance coverage", () => {
  const PKG = "hb-out/app/pkg.txt";
  const built = (iso: string, sha: string, signed?: { keyId: string; builderId: string }) =>
    buildRecord(iso, {
      ...(signed ? { builderId: signed.builderId, signingKeyId: signed.keyId, attestations: [`${PKG}.intoto.jsonl`] } : {}),
      targets: [{ label: "//app:pkg", outputs: [{ path: PKG, sha256: sha, size: 1 }] }],
    });
  const trustedBuilders = new Map([["urn:hb:ci", ["ci-key"]]]);

  it("counts each release artifact once a week, covered when a build signed it with a key the policy trusts for the builder id it signed as", () => {
    const s = slis(
      [
        // signed last week by the trusted builder with its key, built again (unsigned) this week: covered both weeks
        built(LAST_WEEK, "a", { builderId: "urn:hb:ci", keyId: "ci-key" }),
        built(THIS_WEEK, "a"),
        built(THIS_WEEK, "a"),
        // the trusted builder's id with a key the policy does not list for it, and the trusted key under another id
        built(THIS_WEEK, "b", { builderId: "urn:hb:ci", keyId: "laptop-key" }),
        built(THIS_WEEK, "c", { builderId: "urn:hb:laptop", keyId: "ci-key" }),
      ],
      { release: RELEASE, trustedBuilders },
    ).provenanceCoverage;
    expect(s.weeks).toEqual([
      { week: "2026-W48", value: 1, built: 1, covered: 1 },
      { week: "2026-W49", value: 1 / 3, built: 3, covered: 1 },
    ]);
    expect(s.value).toBe(1 / 3);
  });
});
