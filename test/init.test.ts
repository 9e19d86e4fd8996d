// hb init (issue 19): an existing npm or pnpm workspace, read as it is, gets hb.config.ts, //tools
// pinned by digest, a marked BUILD.ts block per package and .gitignore lines; hb build and hb test
// then pass with no hand edits; init again changes nothing, keeps hand edits outside the marks,
// and --check fails on drift.
import { execa } from "execa";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, hb, tempDir, writeFiles } from "./helpers";

/** the tools a workspace would have installed, copied from this repository's node_modules */
function installTools(dir: string): void {
  for (const p of ["esbuild", "@esbuild/linux-x64", "typescript", "@types/node", "undici-types"]) {
    mkdirSync(join(dir, "node_modules", p, ".."), { recursive: true });
    cpSync(join(REPO, "node_modules", p), join(dir, "node_modules", p), { recursive: true });
  }
}

const MONOREPO = {
  "package.json": JSON.stringify({ name: "mono", private: true, type: "module", workspaces: ["packages/*"] }),
  "tsconfig.base.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      types: ["node"],
      skipLibCheck: true,
    },
  }),
  "packages/greet/package.json": JSON.stringify({
    name: "@mono/greet",
    version: "1.0.0",
    type: "module",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    scripts: { build: "tsc", test: "node --test", release: "changeset publish" },
  }),
  "packages/greet/tsconfig.json":
    '{\n  // tsconfig files have comments\n  "extends": "../../tsconfig.base.json",\n  "compilerOptions": { "outDir": "dist", "rootDir": "src", "declaration": true },\n  "include": ["src"],\n}\n',
  "packages/greet/src/index.ts": "export function greet(name: string): string {\n  return `hello, ${name}`;\n}\n",
  "packages/greet/src/index.test.ts":
    'import { test } from "node:test";\nimport assert from "node:assert";\nimport { greet } from "./index.js";\ntest("greets", () => assert.equal(greet("a"), "hello, a"));\n',
  "packages/cli/package.json": JSON.stringify({
    name: "@mono/cli",
    version: "1.0.0",
    private: true,
    type: "module",
    bin: { greet: "./dist/main.js" },
    dependencies: { "@mono/greet": "*" },
  }),
  "packages/cli/src/main.ts": 'import { greet } from "@mono/greet";\nconsole.log(greet(process.argv[2] ?? "world"));\n',
};

function workspace(files: Record<string, string>): string {
  const dir = tempDir();
  writeFiles(dir, files);
  installTools(dir);
  return dir;
}

describe("hb init", () => {
  it("sets up an npm workspace that hb build and hb test then pass, and is stable", async () => {
    const dir = workspace(MONOREPO);
    const first = await hb(dir, ["init"]);
    expect(first.exitCode, first.output).toBe(0);
    expect(first.stdout).toContain("2 packages (npm)");
    for (const f of ["hb.config.ts", "BUILD.ts", "tools/BUILD.ts", "packages/greet/BUILD.ts", "packages/cli/BUILD.ts", ".gitignore"])
      expect(first.stdout).toMatch(new RegExp(`created +${f.replace(".", "\\.")}`));
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(".hb/\nhb-out/\n");
    const greet = readFileSync(join(dir, "packages/greet/BUILD.ts"), "utf8");
    // beside tsc's output, the bundle leaves package imports to the runtime as tsc does
    expect(greet).toContain(
      'esbuild({ name: "greet", srcs, entry: "src/index.ts", format: "esm", module_name: "@mono/greet", packages: "external" });',
    );
    // it ships declarations (exports' types): tsc builds dist/ where package.json points, and that is packed
    expect(greet).toContain(
      'ts_project({ name: "dist", srcs, out_dir: "dist", deps: ["package.json", "//:tsconfig.base.json", "//tools:types_node", "//tools:node_modules"] });',
    );
    expect(greet).toContain(
      'npm_package({ name: "package", package_json: "package.json", srcs: glob(["**"], { exclude: ["BUILD.ts", "**/*.tsbuildinfo", "dist/**"] }), deps: [":dist"] });',
    );
    const cli = readFileSync(join(dir, "packages/cli/BUILD.ts"), "utf8");
    expect(cli).toContain('const deps = ["//packages/greet"];');
    expect(cli).toContain('node_binary({ name: "greet", entry: "src/main.ts", srcs, deps });');
    expect(readFileSync(join(dir, "tools/BUILD.ts"), "utf8")).toMatch(
      /esbuild_toolchain\(\{ name: "esbuild", path: "[^"]+", sha256: "[0-9a-f]{64}" \}\)/,
    );
    expect(greet).toContain("scripts hb init does not turn into targets: release");

    const build = await hb(dir, ["build", "//..."]);
    expect(build.exitCode, build.output).toBe(0);
    const run = await hb(dir, ["run", "//packages/cli:greet", "--", "Ada"]);
    expect(run.stdout).toContain("hello, Ada");
    const test = await hb(dir, ["test", "//..."]);
    expect(test.exitCode, test.output).toBe(0);
    expect(test.output).toMatch(/\/\/packages\/greet:test +PASSED/);
    expect(test.output).toMatch(/\/\/packages\/greet:typecheck +PASSED/);

    const tgz = await execa("tar", ["tzf", join(dir, "hb-out/packages/greet/package.tgz")]);
    // what npm pack ships of a package.json without files: its files, and what tsc built
    expect(tgz.stdout.split("\n").sort()).toEqual([
      "package/dist/index.d.ts",
      "package/dist/index.js",
      "package/package.json",
      "package/src/index.test.ts",
      "package/src/index.ts",
      "package/tsconfig.json",
    ]);

    // after builds: what they made is no source, so init again changes nothing, from a package's directory too
    const again = await hb(dir, ["init"]);
    expect(again.stdout).not.toMatch(/created|updated/);
    const inPackage = await hb(join(dir, "packages/greet"), ["init", "--check"]);
    expect(inPackage.exitCode, inPackage.output).toBe(0);
    expect(inPackage.stdout).toContain(`2 packages (npm) in ${dir}`);
    expect(inPackage.stdout).toMatch(/kept +tools\/BUILD\.ts \(not compared/);
  }, 180_000);

  it("bundles a package that ships its TypeScript source for the packages that import it", async () => {
    const dir = workspace({
      "package.json": JSON.stringify({ name: "mono", private: true, type: "module", workspaces: ["packages/*"] }),
      "packages/util/package.json": JSON.stringify({ name: "@mono/util", private: true, type: "module", main: "./src/index.ts" }),
      "packages/util/src/index.ts": "export const shout = (s: string): string => s.toUpperCase();\n",
      "packages/app/package.json": JSON.stringify({
        name: "@mono/app",
        private: true,
        type: "module",
        bin: { app: "./dist/main.js" },
        dependencies: { "@mono/util": "*" },
      }),
      "packages/app/src/main.ts": 'import { shout } from "@mono/util";\nconsole.log(shout("from source"));\n',
    });
    const init = await hb(dir, ["init"]);
    expect(init.exitCode, init.output).toBe(0);
    expect(init.output).not.toContain("no source found");
    expect(readFileSync(join(dir, "packages/util/BUILD.ts"), "utf8")).toContain(
      'esbuild({ name: "util", srcs, entry: "src/index.ts", format: "esm", module_name: "@mono/util" });',
    );
    const run = await hb(dir, ["run", "//packages/app:app"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toContain("FROM SOURCE");
  }, 180_000);

  it("keeps hand edits outside the marks, leaves an unmarked BUILD.ts alone, and --check fails on drift", async () => {
    const dir = workspace(MONOREPO);
    expect((await hb(dir, ["init"])).exitCode).toBe(0);
    const path = join(dir, "packages/greet/BUILD.ts");
    const generated = readFileSync(path, "utf8");
    writeFileSync(
      path,
      `// ours, above\nimport { genrule } from "hbuild";\n${generated}genrule({ name: "extra", outs: ["x"], cmd: "echo > $@" });\n`,
    );
    writeFileSync(
      join(dir, "packages/cli/BUILD.ts"),
      'import { genrule } from "hbuild";\ngenrule({ name: "mine", outs: ["m"], cmd: "echo > $@" });\n',
    );

    const check = await hb(dir, ["init", "--check"]);
    expect(check.exitCode).toBe(0);
    expect(check.stdout).toMatch(/kept +packages\/cli\/BUILD\.ts \(no hb init marks/);

    writeFileSync(path, readFileSync(path, "utf8").replace('format: "esm"', 'format: "cjs"'));
    const drift = await hb(dir, ["init", "--check"]);
    expect(drift.exitCode).toBe(1);
    expect(drift.stdout).toMatch(/would update +packages\/greet\/BUILD\.ts/);
    expect(readFileSync(path, "utf8")).toContain('format: "cjs"');

    expect((await hb(dir, ["init"])).exitCode).toBe(0);
    const after = readFileSync(path, "utf8");
    expect(after.startsWith('// ours, above\nimport { genrule } from "hbuild";\n')).toBe(true);
    const extra = await hb(dir, ["build", "//packages/greet:extra"]);
    expect(extra.exitCode, extra.output).toBe(0);
    expect(after).toContain('format: "esm"');
    expect(after.endsWith('genrule({ name: "extra", outs: ["x"], cmd: "echo > $@" });\n')).toBe(true);
  }, 120_000);

  it("sets up a single-package repository whose tsconfig extends a base, builds it, and stays stable after the build", async () => {
    const dir = workspace({
      "package.json": JSON.stringify({
        name: "solo",
        version: "1.0.0",
        type: "module",
        main: "dist/index.js",
        bin: { solo: "dist/cli.js" },
      }),
      "tsconfig.base.json": JSON.stringify({
        compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", skipLibCheck: true, types: ["node"] },
      }),
      "tsconfig.json": '{ "extends": "./tsconfig.base.json", "compilerOptions": { "outDir": "dist" }, "include": ["src"] }\n',
      "src/index.ts": "export const solo = 1;\n",
      "src/cli.ts": 'import { solo } from "./index.js";\nconsole.log(`solo ${solo}`);\n',
      "src/test.ts":
        'import { test } from "node:test";\nimport assert from "node:assert";\nimport { solo } from "./index.js";\ntest("one", () => assert.equal(solo, 1));\n',
    });
    expect((await hb(dir, ["init"])).exitCode).toBe(0);
    const build = readFileSync(join(dir, "BUILD.ts"), "utf8");
    // src/test.ts is the one test, by name: not every source
    expect(build).toContain('const tests = glob(["src/test.ts"]);');
    const t = await hb(dir, ["test", "//..."]);
    expect(t.exitCode, t.output).toBe(0);
    expect(t.output).toMatch(/\/\/:typecheck +PASSED/);
    const b = await hb(dir, ["build", "//..."]);
    expect(b.exitCode, b.output).toBe(0);
    const check = await hb(dir, ["init", "--check"]);
    expect(check.exitCode, check.output).toBe(0);
  }, 120_000);

  it("sets up a pnpm workspace (workspace:* links, tools installed but not in its lockfile) that hb build, test and run then pass", async () => {
    const dir = workspace({
      ...MONOREPO,
      "package.json": JSON.stringify({ name: "mono", private: true, type: "module" }),
      "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n",
      "pnpm-lock.yaml":
        "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .: {}\n\n" +
        "  packages/cli:\n    dependencies:\n      '@mono/greet':\n        specifier: workspace:*\n        version: link:../greet\n\n" +
        "  packages/greet: {}\n",
      "packages/cli/package.json": JSON.stringify({
        name: "@mono/cli",
        version: "1.0.0",
        private: true,
        type: "module",
        bin: { greet: "./dist/main.js" },
        dependencies: { "@mono/greet": "workspace:*" },
      }),
    });
    // pnpm links a workspace dependency into its dependent's node_modules
    mkdirSync(join(dir, "packages/cli/node_modules/@mono"), { recursive: true });
    symlinkSync("../../../greet", join(dir, "packages/cli/node_modules/@mono/greet"));
    const init = await hb(dir, ["init"]);
    expect(init.stdout).toContain("2 packages (pnpm)");
    // the lockfile pins neither typescript nor @types/node: the installed ones, from //tools
    const greet = readFileSync(join(dir, "packages/greet/BUILD.ts"), "utf8");
    expect(greet).not.toContain("typescript:");
    expect(greet).toContain('types: ["//tools:types_node"]');
    const build = await hb(dir, ["build", "//..."]);
    expect(build.exitCode, build.output).toBe(0);
    const test = await hb(dir, ["test", "//..."]);
    expect(test.exitCode, test.output).toBe(0);
    expect(test.output).toMatch(/\/\/packages\/greet:typecheck +PASSED/);
    expect((await hb(dir, ["run", "//packages/cli:greet", "--", "Ada"])).stdout).toContain("hello, Ada");
    expect((await hb(dir, ["init", "--check"])).exitCode).toBe(0);
  }, 180_000);

  it("runs the root's precompile script for a file the sources import that is not in the tree, and compiles declarations among the sources", async () => {
    const dir = workspace({
      ...MONOREPO,
      "package.json": JSON.stringify({
        name: "mono",
        private: true,
        type: "module",
        workspaces: ["packages/*"],
        scripts: { precompile: "node scripts/precompile.mjs", compile: "tsc --build" },
      }),
      // as apollo-server's: the version from package.json, into a gitignored source
      "scripts/precompile.mjs":
        'import { readFileSync, writeFileSync, mkdirSync } from "node:fs";\n' +
        'const { version } = JSON.parse(readFileSync("packages/greet/package.json", "utf8"));\n' +
        'mkdirSync("packages/greet/src/generated", { recursive: true });\n' +
        'writeFileSync("packages/greet/src/generated/version.ts", `export const version = ${JSON.stringify(version)};\\n`);\n',
      "packages/greet/src/index.ts":
        'import { version } from "./generated/version.js";\nimport type { Shape } from "./shape.js";\n' +
        "export const shape: Shape = { version };\nexport function greet(name: string): string {\n  return `hello, ${name} (${version})`;\n}\n",
      "packages/greet/src/shape.d.ts": "export interface Shape {\n  version: string;\n}\n",
      // as apollo's gateway-interface: ESM and CJS builds, the CJS one shipped for its declarations alone
      "packages/greet/package.json": JSON.stringify({
        name: "@mono/greet",
        version: "1.0.0",
        type: "module",
        exports: { ".": { types: { require: "./dist/cjs/index.d.ts", default: "./dist/esm/index.d.ts" }, import: "./dist/esm/index.js" } },
      }),
      "packages/greet/tsconfig.json": JSON.stringify({
        extends: "../../tsconfig.base.json",
        compilerOptions: { outDir: "dist/esm", rootDir: "src", declaration: true },
        include: ["src"],
      }),
      "packages/greet/tsconfig.cjs.json": JSON.stringify({
        extends: ".",
        compilerOptions: { module: "commonjs", moduleResolution: "node10", outDir: "./dist/cjs" },
      }),
    });
    const init = await hb(dir, ["init"]);
    expect(init.exitCode, init.output).toBe(0);
    const greet = readFileSync(join(dir, "packages/greet/BUILD.ts"), "utf8");
    expect(greet).toContain('outs: ["src/generated/version.ts"], cmd: "node scripts/precompile.mjs", tools: ["//tools:node"] });');
    const build = await hb(dir, ["build", "//..."]);
    expect(build.exitCode, build.output).toBe(0);
    expect(readFileSync(join(dir, "hb-out/packages/greet/dist/esm/index.js"), "utf8")).toContain('from "./generated/version.js"');
    expect(readFileSync(join(dir, "hb-out/packages/greet/dist/esm/generated/version.js"), "utf8")).toContain('"1.0.0"');
    expect(greet).toContain('ts_project({ name: "dist_cjs", srcs, out_dir: "dist/cjs", deps: ["tsconfig.json", "package.json",');
    expect(readFileSync(join(dir, "hb-out/packages/greet/dist/cjs/index.js"), "utf8")).toContain("exports.greet = greet;");
    expect(readFileSync(join(dir, "hb-out/packages/greet/dist/cjs/package.json"), "utf8")).toBe('{"type":"commonjs"}');
    const tgz = await execa("tar", ["tzf", join(dir, "hb-out/packages/greet/package.tgz")]);
    expect(tgz.stdout).toContain("package/dist/cjs/index.d.ts");
    const run = await hb(dir, ["run", "//packages/cli:greet", "--", "Ada"]);
    expect(run.stdout).toContain("hello, Ada (1.0.0)");
    // the generated file is no source: init again changes nothing
    expect((await hb(dir, ["init", "--check"])).exitCode).toBe(0);
  }, 180_000);

  it("reads pnpm's workspace file and refuses a directory that is no workspace", async () => {
    const dir = workspace({
      "package.json": JSON.stringify({ name: "p", private: true }),
      "pnpm-workspace.yaml": "packages:\n  - 'libs/*'\n  - '!libs/skip'\n",
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
      "libs/a/package.json": JSON.stringify({ name: "a", version: "1.0.0", main: "lib/index.js" }),
      "libs/a/src/index.ts": "export const a = 1;\n",
      "libs/skip/package.json": JSON.stringify({ name: "skip" }),
    });
    const r = await hb(dir, ["init"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout).toContain("1 package (pnpm)");
    expect(readFileSync(join(dir, "libs/a/BUILD.ts"), "utf8")).toContain(
      'esbuild({ name: "a", srcs, entry: "src/index.ts", format: "cjs", module_name: "a" });',
    );

    writeFileSync(join(dir, "pnpm-workspace.yaml"), "packages: [unclosed\n");
    const badYaml = await hb(dir, ["init"]);
    expect(badYaml.exitCode).toBe(2);
    expect(badYaml.stderr).toContain("pnpm-workspace.yaml is not valid YAML");

    const empty = await hb(tempDir(), ["init"]);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain("no package.json");
    expect(empty.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
