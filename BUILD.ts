import { ts_check } from "@hb/rules-node";

// hb builds and tests itself: `hb test //...` type checks the repository and runs its tests, the
// unit tests in hb's sandbox, the end-to-end ones (which start sandboxes) unsandboxed, visibly.

ts_check({
  name: "typecheck",
  srcs: [
    "BUILD.ts",
    "hb.config.ts",
    "vitest.config.ts",
    "//packages/core:srcs",
    "//packages/cli:srcs",
    "//packages/rules-node:srcs",
    "//packages/cache-server:srcs",
    "//test:all_ts",
    "//tools:BUILD.ts",
    "//scripts:BUILD.ts",
    "//test:BUILD.ts",
    "//packages/core:BUILD.ts",
    "//packages/cli:BUILD.ts",
    "//packages/rules-node:BUILD.ts",
    "//packages/cache-server:BUILD.ts",
  ],
  tsconfig: "tsconfig.json",
  types: ["//tools:node_modules"],
});
