// Test support for the provenance tests: a realistic build's provenance input. Not exported.
import type { ProvenanceInput } from "./statement";

export const ARTIFACT_SHA256 = "a".repeat(64);
export const SOURCE_COMMIT = "0123456789abcdef0123456789abcdef01234567";
export const BUILDER_ID = "https://ci.example.com/hb-builder/v1";

export function sampleInput(overrides: Partial<ProvenanceInput> = {}): ProvenanceInput {
  return {
    subjects: [
      { name: "hb-out/x/pkg.tgz", sha256: ARTIFACT_SHA256 },
      { name: "hb-out/x/index.js", sha256: "b".repeat(64) },
    ],
    targets: ["//x:pkg"],
    configPath: "hb.config.ts",
    hbVersion: "0.1.0+0123456789abcdef",
    sandbox: "strict",
    sourceDateEpoch: 315532800,
    sourceCommit: { sha: SOURCE_COMMIT, dirty: false },
    sources: [
      { path: "x/src/index.ts", sha256: "c".repeat(64) },
      { path: "x/BUILD.ts", sha256: "d".repeat(64) },
    ],
    tools: [{ path: "node_modules/esbuild/bin/esbuild", sha256: "e".repeat(64) }],
    lockfilePins: [
      { name: "@scope/lib", version: "1.2.3", integrity: `sha512-${Buffer.alloc(64, 1).toString("base64")}` },
      { name: "left-pad", version: "1.3.0", integrity: `sha1-${Buffer.alloc(20, 2).toString("base64")}` },
    ],
    builderId: BUILDER_ID,
    invocationId: "build-42",
    startedOn: new Date("2024-05-01T10:00:00Z"),
    finishedOn: new Date("2024-05-01T10:01:30.250Z"),
    ...overrides,
  };
}
