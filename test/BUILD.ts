import { filegroup, glob } from "@hb/core";
import { node_test } from "@hb/rules-node";

filegroup({ name: "helpers", srcs: ["helpers.ts", "grpc-fault-proxy.ts"] });
filegroup({ name: "all_ts", srcs: glob(["*.ts"]) });

// End-to-end: these run the built CLI, which runs bwrap; sandboxes do not nest here, so the
// target runs unsandboxed, visibly (tag no-sandbox).
node_test({
  name: "e2e",
  runner: "vitest",
  tags: ["no-sandbox"],
  srcs: glob(["*.test.ts"]),
  data: [
    ":helpers",
    "//packages/cli:dist",
    "//packages/core:srcs",
    "//packages/cache-server:srcs",
    "//packages/rules-node:srcs",
    "//:tsconfig.json",
    "//examples/basic/app:files",
    "//examples/basic/greeting:files",
    "//examples/basic/tools:files",
    "//examples/basic/version:files",
    "//examples/ts-monorepo:files",
    "//examples/ts-monorepo/cli:files",
    "//examples/ts-monorepo/greet:files",
    "//tools:files",
  ],
  vitest_config: "//:vitest.config.ts",
});
