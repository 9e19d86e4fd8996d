import { filegroup, glob } from "@hb/core";
import { node_binary, node_test } from "@hb/rules-node";

const sources = glob(["src/**/*.ts"], { exclude: ["src/**/*.test.ts"] });
filegroup({ name: "srcs", srcs: glob(["src/**/*.ts"]) });

node_binary({ name: "greet", entry: "src/main.ts", srcs: sources, deps: ["//examples/ts-monorepo/greet"] });

node_test({ name: "test", srcs: glob(["src/**/*.test.ts"]), data: sources, deps: ["//examples/ts-monorepo/greet"] });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
