import { attr, rule } from "@hb/core";
import { bundle, fileIn } from "./esbuild";
import { DEFAULT_TOOLS, jsModuleOf, requireToolchain } from "./tools";

/**
 * A Node.js program: `entry` bundled with esbuild into `<name>.mjs`, and `<name>`, a launcher
 * that runs it with node. `hb run //pkg:name -- args` builds and runs it.
 */
export const node_binary = rule({
  kind: "node_binary",
  executable: true,
  attrs: {
    entry: attr.string({ mandatory: true, doc: "package-relative entry point" }),
    srcs: attr.labelList({ mandatory: true }),
    deps: attr.labelList({ doc: "esbuild targets the sources import (by module_name)" }),
    data: attr.labelList({ doc: "files the program reads at run time" }),
    define: attr.stringDict(),
    esbuild: attr.label({ default: DEFAULT_TOOLS.esbuild }),
  },
  impl(ctx) {
    const srcs = ctx.files("srcs");
    const out = ctx.declareFile(`${ctx.name}.mjs`);
    const map = ctx.declareFile(`${ctx.name}.mjs.map`);
    bundle(ctx, {
      esbuild: requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label),
      points: [{ entry: fileIn(srcs, ctx.attr.entry!, ctx.label, "entry"), out, map }],
      srcs,
      deps: ctx.attr.deps.map((d) => ({ files: d.files, module: jsModuleOf(d) })),
      format: "esm",
      platform: "node",
      target: "node20",
      minify: false,
      define: ctx.attr.define,
      external: [],
    });
    const launcher = ctx.declareFile(ctx.name);
    ctx.actions.write({ output: launcher, content: `#!/bin/sh\nexec node "$(dirname "$0")/${ctx.name}.mjs" "$@"\n`, executable: true });
    return { files: [launcher, out, map], executable: launcher, runfiles: [out, map, ...ctx.files("data")] };
  },
});
