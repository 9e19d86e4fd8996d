import { filegroup, glob } from "@hb/core";

filegroup({ name: "srcs", srcs: glob(["src/**/*.ts", "bin/hb.js", "package.json"]) });

// The bundled CLI as `npm run build` made it (scripts/build.mjs): what the end-to-end tests run.
filegroup({ name: "dist", srcs: glob(["dist/**"], { allowEmpty: false }) });
