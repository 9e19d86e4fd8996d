import { filegroup, glob } from "@hb/core";

filegroup({ name: "srcs", srcs: glob(["src/**/*.ts", "package.json"]) });
