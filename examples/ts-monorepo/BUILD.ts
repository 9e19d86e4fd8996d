import { filegroup } from "@hb/core";

filegroup({ name: "config", srcs: ["tsconfig.json"] });
