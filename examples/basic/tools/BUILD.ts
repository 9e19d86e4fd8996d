import { filegroup, glob, local_toolchain } from "@hb/core";

// A tool target: genrules list it in `tools`, which stages it, pins it by digest in their action
// keys and puts its directory first on PATH.
filegroup({ name: "render", srcs: ["render.sh"] });

// The programs the genrules run besides bash and its coreutils (which every genrule has),
// pinned by their digest at build time: listed in `tools`, they are what --sandbox=strict shows.
local_toolchain({ name: "sh", path: "/bin/sh" }); // render.sh's interpreter
local_toolchain({ name: "awk", path: "/usr/bin/awk" });
local_toolchain({ name: "tar", path: "/usr/bin/tar" });
local_toolchain({ name: "gzip", path: "/usr/bin/gzip" });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
