import { filegroup, genrule, glob } from "@hb/core";

// hb builds itself. The TypeScript rules (esbuild, node_test) arrive with rules-node; until then
// this package names hb's sources and records their digests, as a real action in the sandbox.

const PACKAGES = ["core", "cli", "rules-node", "cache-server"];

for (const p of PACKAGES) {
  filegroup({ name: `${p}_srcs`, srcs: glob([`packages/${p}/src/**/*.ts`], { exclude: ["**/*.test.ts"] }) });
}

genrule({
  name: "source_manifest",
  srcs: PACKAGES.map((p) => `:${p}_srcs`),
  outs: ["source-manifest.txt"],
  cmd: "sha256sum $(SRCS) > $@",
});
