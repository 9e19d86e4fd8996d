import { filegroup } from "@hb/core";

filegroup({ name: "build", srcs: ["build.mjs"] });
