import { filegroup, glob } from "@hb/core";
import { node_test } from "@hb/rules-node";

filegroup({ name: "srcs", srcs: glob(["src/**/*.ts", "package.json"]) });

// hb's own unit tests, in hb's sandbox: vitest from the workspace's node_modules.
node_test({
  name: "unit",
  runner: "vitest",
  srcs: glob(["src/**/*.test.ts"]),
  data: [":srcs", "//test:helpers", "//:tsconfig.json"],
  vitest_config: "//:vitest.config.ts",
});
