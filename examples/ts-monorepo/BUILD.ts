import { filegroup, glob } from "@hb/core";

filegroup({ name: "config", srcs: ["tsconfig.json"] });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
