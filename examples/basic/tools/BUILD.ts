import { filegroup, glob } from "@hb/core";

// A tool target: genrules list it in `tools`, which stages it, pins it by digest in their action
// keys and puts its directory first on PATH.
filegroup({ name: "render", srcs: ["render.sh"] });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
