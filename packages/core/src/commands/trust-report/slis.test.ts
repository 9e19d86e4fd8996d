import { describe, expect, it } from "vitest";
import type { KnownRecord } from "../record-kinds";
import type { ActionEntry } from "../run-record";
import { attestVerifyRecord, buildRecord, explainRecord, gateRecord, verifyRecord } from "../records-testing";
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
          refusedUploads: {},
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
          refusedUploads: {},
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

describe("hermetic violations, when nothing was audited", () => {
  it("are null, not zero: no audit looked; a violation found without one still counts", () => {
    const s = slis([
      buildRecord(LAST_WEEK),
      buildRecord(THIS_WEEK, { failures: [{ code: "UNDECLARED_TOOL", message: "m" }] as never }),
    ]).hermeticViolations;
    expect(s.weeks).toEqual([
      { week: "2026-W48", value: null, audited: 0, auditFindings: 0, undeclaredTools: 0, missingInputs: 0, unsandboxedInRelease: 0 },
      { week: "2026-W49", value: 1, audited: 0, auditFindings: 0, undeclaredTools: 1, missingInputs: 0, unsandboxedInRelease: 0 },
    ]);
    // an audit that found nothing: zero, a figure
    expect(slis([buildRecord(LAST_WEEK, { hermeticViolations: 0 })]).hermeticViolations.weeks[0]).toMatchObject({ value: 0, audited: 1 });
  });
});

describe("mean time to explain a release", () => {
  it("counts the recorded explains of release artifacts, by path or by a digest a release build made, not the others", () => {
    const s = slis(
      [
        buildRecord(LAST_WEEK, { targets: [{ label: "//app:pkg", outputs: [{ path: "hb-out/app/pkg.txt", sha256: "d1", size: 1 }] }] }),
        explainRecord(THIS_WEEK, { file: "hb-out/app/pkg.txt", sha256: "d2", durationMs: 10 }),
        explainRecord(THIS_WEEK, { sha256: "d1", durationMs: 20, complete: false }),
        explainRecord(THIS_WEEK, { file: "hb-out/tools/t.txt", sha256: "d3", durationMs: 1000 }),
      ],
      { release: RELEASE },
    ).meanTimeToExplainMs;
    expect(s.weeks[1]).toEqual({ week: "2026-W49", value: 15, explained: 2, incomplete: 1 });
  });
});

describe("reproducibility", () => {
  it("keys an artifact by its workspace path: a gate and a verify of one file are one artifact, two workspaces' files of one name two", () => {
    const gated = (path: string, status: "pass" | "fail") =>
      gateRecord(THIS_WEEK, {
        artifacts: [
          {
            artifact: "pkg.txt",
            path,
            sha256: "d1",
            result: "passed",
            checks: [{ check: "corroboration", status, detail: "" }],
            inputAttestations: [],
          },
        ] as never,
      });
    const s = slis(
      [
        verifyRecord(THIS_WEEK, {
          targets: [{ label: "//app:pkg", status: "not reproducible", outputs: [{ path: "hb-out/app/pkg.txt", sha256: "d1" }] }] as never,
        }),
        // later the same week, the gate of the same file, named as given from hb-out/app/: its verdict replaces the verify's
        gated("hb-out/app/pkg.txt", "pass"),
        // a file of the same name in another checkout, outside this workspace: its last verdict the attest verify's
        gated("/elsewhere/hb-out/app/pkg.txt", "fail"),
        attestVerifyRecord(THIS_WEEK, {
          artifact: "pkg.txt",
          path: "/elsewhere/hb-out/app/pkg.txt",
          sha256: "d1",
          threshold: 2,
          ok: false,
        }),
      ],
      { release: RELEASE },
    ).reproducibility;
    // the other checkout's file is verified, not a release artifact of this workspace
    expect(s.weeks[1]).toMatchObject({ value: 1, verified: 2, reproducible: 1, releaseVerified: 1, releaseReproducible: 1 });
  });
});
