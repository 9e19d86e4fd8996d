import { filegroup, glob } from "@hb/core";
import { esbuild, node_test, npm_package, ts_check } from "@hb/rules-node";

const sources = glob(["src/**/*.ts"], { exclude: ["src/**/*.test.ts"] });

esbuild({ name: "greet", srcs: sources, entry: "src/index.ts", module_name: "@tsm/greet" });

node_test({ name: "test", srcs: glob(["src/**/*.test.ts"]), data: sources });

ts_check({
  name: "typecheck",
  srcs: [...sources, ...glob(["src/**/*.test.ts"]), "//examples/ts-monorepo/cli:srcs"],
  tsconfig: "//examples/ts-monorepo:tsconfig.json",
  types: ["//tools:types_node"],
});

npm_package({ name: "package", package_json: "package.json", deps: [":greet"] });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
