// npm run pack: the one package a project installs (`npm i -D ./dist/hbuild-<version>.tgz`). It
// holds the bundled CLI (which includes the cache server and rules-node), the BUILD.ts API as
// `hbuild` and `hbuild/rules-node` with their declarations, and exact versions of the two
// dependencies the bundle leaves out (native or platform code). Nothing here is published by
// this script: it writes the tarball npm would publish, from the bundle `npm run build` made,
// to dist/ (or to --out DIR).
import * as esbuild from "esbuild";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "hbuild";
const readJson = (p) => JSON.parse(readFileSync(join(root, p), "utf8"));
const version = readJson("packages/cli/package.json").version;
/** what the bundle leaves external (scripts/build.mjs), at the versions this repository locks */
const EXTERNAL = ["better-sqlite3", "esbuild"];

const outFlag = process.argv.indexOf("--out");
const out = outFlag > 0 ? process.argv[outFlag + 1] : join(root, "dist");
const stage = join(out, `.pack-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
try {
  cpSync(join(root, "packages/cli/dist"), join(stage, "dist"), { recursive: true });
  mkdirSync(join(stage, "bin"));
  writeFileSync(join(stage, "bin/hb.js"), '#!/usr/bin/env node\nawait import("../dist/hb.mjs");\n', { mode: 0o755 });

  // The API modules as plain ESM, for tools that load a BUILD.ts's imports (an editor, tsc);
  // hb itself serves them to BUILD.ts files from inside its evaluator.
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { api: "packages/core/src/index.ts", "rules-node": "packages/rules-node/src/index.ts" },
    outdir: join(stage, "lib"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    legalComments: "none",
    logLevel: "warning",
  });

  writeDeclarations(join(stage, "types"));

  const lock = readJson("package-lock.json");
  const pinned = Object.fromEntries(EXTERNAL.map((d) => [d, lock.packages[`node_modules/${d}`].version]));
  const pkg = {
    name: NAME,
    version,
    description: readJson("package.json").description,
    type: "module",
    bin: { hb: "bin/hb.js" },
    exports: {
      ".": { types: "./types/core/index.d.ts", default: "./lib/api.mjs" },
      "./rules-node": { types: "./types/rules-node/index.d.ts", default: "./lib/rules-node.mjs" },
      "./package.json": "./package.json",
    },
    types: "./types/core/index.d.ts",
    engines: readJson("package.json").engines,
    dependencies: pinned,
  };
  writeFileSync(join(stage, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  writeFileSync(
    join(stage, "README.md"),
    `# ${NAME}\n\nhb: a hermetic, reproducible, attested build system for monorepos. The \`hb\` command, the BUILD.ts API (\`${NAME}\`, \`${NAME}/rules-node\`) and the team cache server.\n\n\`\`\`\nnpm i -D ${NAME}\nnpx hb init\nnpx hb build //... && npx hb test //...\n\`\`\`\n`,
  );

  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.startsWith(`${NAME}-`) && f.endsWith(".tgz")) rmSync(join(out, f));
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: stage, encoding: "utf8" }))[0];
  process.stdout.write(`${join(out, packed.filename)}: ${packed.entryCount} files, ${(packed.size / 1024 / 1024).toFixed(1)} MiB\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/**
 * Declarations of the two API modules, emitted by tsc. Imports between them are rewritten to the
 * package's own names, and relative ones get the `.js` that Node's ESM resolution (and
 * TypeScript's `nodenext`) requires: the sources import without extensions, as a bundler does.
 */
function writeDeclarations(dir) {
  const tmp = `${dir}.tsc`;
  const config = join(root, `tsconfig.pack-${process.pid}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: relative(root, tmp), rootDir: "packages" },
      include: [],
      files: ["packages/core/src/index.ts", "packages/rules-node/src/index.ts"],
    }),
  );
  try {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { stdio: "inherit" });
  } finally {
    rmSync(config);
  }
  for (const [from, to] of [
    ["core/src", "core"],
    ["rules-node/src", "rules-node"],
  ]) {
    if (existsSync(join(tmp, from))) cpSync(join(tmp, from), join(dir, to), { recursive: true });
  }
  rmSync(tmp, { recursive: true, force: true });
  for (const file of walk(dir)) {
    const text = readFileSync(file, "utf8").replace(/(from |import\()"([^"]+)"/g, (_, lead, spec) => `${lead}"${specifier(file, spec)}"`);
    writeFileSync(file, text);
  }
}

function specifier(file, spec) {
  if (spec === "@hb/core") return NAME;
  if (spec === "@hb/rules-node") return `${NAME}/rules-node`;
  if (!spec.startsWith(".")) return spec;
  const base = join(dirname(file), spec);
  if (existsSync(`${base}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(base, "index.d.ts"))) return `${spec}/index.js`;
  throw new Error(`${relative(root, file)}: cannot resolve ${spec} among the emitted declarations`);
}

function walk(dir) {
  return readdirSync(dir).flatMap((e) =>
    statSync(join(dir, e)).isDirectory() ? walk(join(dir, e)) : e.endsWith(".d.ts") ? [join(dir, e)] : [],
  );
}
