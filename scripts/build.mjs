// Bundles the hb CLI (dist/hb.mjs) and the sandboxed BUILD.ts analyzer (dist/analyzer.mjs)
// with esbuild: the CLI loads as one file, which keeps a no-op build's start-up short.
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = ["packages/core/src", "packages/cli/src", "packages/rules-node/src", "packages/cache-server/src"];

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );
}

// The build id names this exact hb: analysis results made by another build are not reused.
const hash = createHash("sha256");
for (const f of SOURCES.flatMap((d) => walk(join(root, d))).sort()) {
  hash.update(relative(root, f)).update("\0").update(readFileSync(f)).update("\0");
}
const buildId = hash.digest("hex").slice(0, 16);
const version = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")).version;

const dist = join(root, "packages/cli/dist");
const staging = `${dist}.tmp-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { hb: "packages/cli/src/main.ts", analyzer: "packages/cli/src/analyzer-main.ts" },
  outdir: staging,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  // heavy modules a no-op build does not need (execa, fast-glob, xxhash) load on demand
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  metafile: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["better-sqlite3", "esbuild", "fsevents"],
  // jsonc-parser's main is a UMD build whose requires esbuild cannot follow; its ESM build bundles
  alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
  banner: { js: "import { createRequire as __hbRequire } from 'node:module'; const require = __hbRequire(import.meta.url);" },
  define: { __HB_BUILD_ID__: JSON.stringify(buildId), __HB_VERSION__: JSON.stringify(`${version}+${buildId}`) },
  legalComments: "none",
  logLevel: "warning",
});
if (process.env.HB_BUNDLE_META) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(process.env.HB_BUNDLE_META, JSON.stringify(result.metafile));
}
// swap the new bundle in whole: never a half-written dist/
const old = `${dist}.old-${process.pid}`;
try {
  renameSync(dist, old);
} catch {
  // first build
}
renameSync(staging, dist);
rmSync(old, { recursive: true, force: true });
