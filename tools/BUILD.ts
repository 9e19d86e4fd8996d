import { filegroup, glob, local_toolchain } from "@hb/core";
import { esbuild_toolchain } from "@hb/rules-node";

// The tools rules-node runs, as the workspace's rules refer to them by default (//tools:...).

// esbuild's native binary, as package-lock.json pins it (esbuild 0.28.2, linux-x64): a changed
// binary stops the build with both digests.
esbuild_toolchain({ name: "esbuild", sha256: "e1698a3d5c6c0798fee4fd3b5cc816651f460c63d390a7a26ea4beb0b1884100" });

// The node that runs tests and tools; pinned by its digest at build time.
local_toolchain({ name: "node", path: "/usr/bin/node" });

// Installed by npm ci, pinned by their digest at build time (the tree enters every action key).
local_toolchain({ name: "typescript", path: "node_modules/typescript" });
local_toolchain({ name: "types_node", path: "node_modules/@types/node" });
local_toolchain({ name: "node_modules", path: "node_modules" });

// every file of this package, for tests and packaging
filegroup({ name: "files", srcs: glob(["**"]) });
