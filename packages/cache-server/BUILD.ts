import { filegroup, glob } from "@hb/core";
import { node_test } from "@hb/rules-node";

filegroup({ name: "srcs", srcs: glob(["src/**/*.ts", "package.json"]) });

const common = {
  runner: "vitest",
  data: [":srcs", "//packages/core:srcs", "//packages/cli:srcs", "//packages/rules-node:srcs", "//:tsconfig.json", "//scripts:build"],
  vitest_config: "//:vitest.config.ts",
};

// the server in-process and as a child process, in hb's sandbox
node_test({ name: "unit", srcs: glob(["src/**/*.test.ts"], { exclude: ["src/server/bazel.test.ts"] }), ...common });

// Bazel as a real client: Bazel sandboxes its own actions, and sandboxes do not nest here, so this
// one runs unsandboxed, visibly (tag no-sandbox).
node_test({ name: "bazel", srcs: ["src/server/bazel.test.ts"], tags: ["no-sandbox"], ...common });
