import { attr, rule } from "@hb/core";

/**
 * A node_modules tree from an npm lockfile (v2/v3). Every package must be pinned by an integrity
 * hash from a registry (or allow-listed in hb.config.ts, npm.allowUnpinned); tarballs are
 * fetched by `hb fetch` / the fetch step of `hb build`, checked, and extracted into a
 * deterministic layout as a cached action output, with node_modules/.bin links.
 */
export const npm_deps = rule({
  kind: "npm_deps",
  attrs: {
    lockfile: attr.label({ default: "package-lock.json", doc: "the package-lock.json" }),
  },
  impl(ctx) {
    const [lockfile, ...more] = ctx.files("lockfile");
    if (!lockfile || more.length > 0) throw new Error(`npm_deps ${ctx.label}: 'lockfile' must be one file`);
    const out = ctx.declareDirectory("node_modules");
    ctx.actions.npmInstall({ lockfile, output: out });
    return { files: [out], npmDeps: { nodeModules: out.path } };
  },
});
