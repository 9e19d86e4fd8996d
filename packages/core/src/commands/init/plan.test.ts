import { describe, expect, it } from "vitest";
import { planInit } from "./plan";
import type { ScannedPackage, WorkspaceScan } from "./scan";

function pkg(over: Partial<ScannedPackage>): ScannedPackage {
  return {
    dir: "packages/a",
    name: "a",
    private: true,
    type: "module",
    sources: ["src/index.ts"],
    tests: [],
    testRunner: undefined,
    entries: [],
    unmappedEntries: [],
    bins: [],
    workspaceDeps: [],
    runtimeDeps: [],
    hasTsconfig: false,
    outDir: undefined,
    module: undefined,
    otherProjects: [],
    declarations: false,
    tsconfigExtends: [],
    otherScripts: [],
    ownNpmEntries: false,
    generatedFiles: [],
    generator: undefined,
    shippedDirs: [],
    declarationSources: [],
    subpathManifests: [],
    jestConfig: undefined,
    tsconfigFiles: [],
    testImports: [],
    testData: [],
    npmignore: false,
    ...over,
  };
}

function scan(packages: ScannedPackage[], lockfile?: string): WorkspaceScan {
  return {
    packageManager: lockfile === "pnpm-lock.yaml" ? "pnpm" : "npm",
    lockfile,
    packages,
    rootTsconfigs: [],
    rootJestFiles: [],
    hbFromFile: false,
    locked: { typescript: lockfile !== undefined, typesNode: lockfile !== undefined },
    notes: [],
    tools: {
      esbuild: { path: "node_modules/@esbuild/linux-x64/bin/esbuild", sha256: "a".repeat(64) },
      node: "/usr/bin/node",
      typescript: "node_modules/typescript",
      typesNode: undefined,
      nodeModules: true,
    },
  };
}

describe("planInit", () => {
  it("lays out the lockfile's npm packages with npm_deps, and gives them to what runs code: tests, programs, tsc", () => {
    const app = pkg({
      tests: ["src/a.test.ts"],
      testRunner: "vitest",
      bins: [{ name: "a", source: "src/index.ts" }],
      hasTsconfig: true,
      ownNpmEntries: true,
    });
    const plan = planInit(scan([app], "pnpm-lock.yaml"));
    const root = plan.blocks.get("BUILD.ts")!.lines.join("\n");
    expect(root).toContain('npm_deps({ name: "node_modules", lockfile: "pnpm-lock.yaml" });');
    const a = plan.blocks.get("packages/a/BUILD.ts")!.lines.join("\n");
    expect(a).toContain('npm_deps({ name: "node_modules", lockfile: "//:pnpm-lock.yaml" });');
    expect(a).toContain('const npm = ["//:node_modules", ":node_modules"];');
    expect(a).toContain('node_binary({ name: "a", entry: "src/index.ts", srcs, deps: npm });');
    expect(a).toContain('node_test({ name: "test", srcs: tests, data: srcs, deps: npm, runner: "vitest", vitest: ":node_modules" });');
    expect(a).toContain(
      'ts_check({ name: "typecheck", srcs: [...srcs, ...tests], tsconfig: "tsconfig.json", typescript: "//:node_modules", deps: npm });',
    );
  });

  it("takes tsc from //tools when the lockfile does not pin typescript, whatever node_modules holds", () => {
    const lib = pkg({ hasTsconfig: true });
    const plan = planInit({ ...scan([lib], "pnpm-lock.yaml"), locked: { typescript: false, typesNode: true } });
    const a = plan.blocks.get("packages/a/BUILD.ts")!.lines.join("\n");
    expect(a).toContain('ts_check({ name: "typecheck", srcs: [...srcs], tsconfig: "tsconfig.json", deps: npm });');
    expect(a).not.toContain("typescript:");
    expect(plan.blocks.get("tools/BUILD.ts")!.lines.join("\n")).toContain(
      'local_toolchain({ name: "typescript", path: "node_modules/typescript" });',
    );
    // @types/node installed but not pinned by the lockfile: the installed copy, from //tools
    const types = { ...scan([lib], "pnpm-lock.yaml"), locked: { typescript: true, typesNode: false } };
    types.tools.typesNode = "node_modules/@types/node";
    const b = planInit(types).blocks.get("packages/a/BUILD.ts")!.lines.join("\n");
    expect(b).toContain('types: ["//tools:types_node"]');
  });

  it("without a lockfile, resolves from the installed node_modules and declares no npm_deps", () => {
    const plan = planInit(scan([pkg({ hasTsconfig: true, tests: ["src/a.test.ts"], testRunner: "node" })]));
    expect(plan.blocks.has("BUILD.ts")).toBe(false);
    const a = plan.blocks.get("packages/a/BUILD.ts")!.lines.join("\n");
    expect(a).not.toContain("npm_deps");
    expect(a).toContain('node_test({ name: "test", srcs: tests, data: srcs });');
    expect(a).toContain('types: ["//tools:node_modules"]');
  });

  it("bundles a library with what npm installs with it left external, and names a second format's bundle apart", () => {
    const lib = pkg({
      private: false,
      name: "@s/lib",
      runtimeDeps: ["@s/util", "zod"],
      workspaceDeps: ["@s/util"],
      entries: [
        { output: "./dist/esm/index.js", source: "src/index.ts" },
        { output: "./dist/cjs/index.js", source: "src/index.ts" },
      ],
    });
    const util = pkg({ dir: "packages/util", name: "@s/util", entries: [{ output: "dist/index.js", source: "src/index.ts" }] });
    const a = planInit(scan([lib, util]))
      .blocks.get("packages/a/BUILD.ts")!
      .lines.join("\n");
    expect(a).toContain('const external = ["@s/util", "zod"];');
    expect(a).toContain('esbuild({ name: "a", srcs, entry: "src/index.ts", format: "esm", module_name: "@s/lib", external });');
    expect(a).toContain('esbuild({ name: "a_cjs", srcs, entry: "src/index.ts", format: "cjs", external });');
    expect(a).not.toContain("npm_package(");
    expect(a).toContain("// not packed: its bundles are not at the paths package.json ships");
  });

  it("compiles a package that ships declarations with ts_project where package.json points, and packs that", () => {
    const util = pkg({ dir: "packages/util", name: "@s/util", hasTsconfig: true, declarations: true, outDir: "lib", private: false });
    const app = pkg({
      name: "@s/app",
      private: false,
      hasTsconfig: true,
      declarations: true,
      workspaceDeps: ["@s/util"],
      tsconfigExtends: ["tsconfig.base.json", "packages/util/tsconfig.shared.json"],
    });
    const plan = planInit(scan([app, util], "package-lock.json"));
    const a = plan.blocks.get("packages/a/BUILD.ts")!.lines.join("\n");
    expect(a).toContain(
      'ts_project({ name: "dist", srcs, out_dir: "dist", deps: ["package.json", "//:tsconfig.base.json", "//packages/util:tsconfig.shared.json", "//packages/util:dist", "//packages/util:package_files", ...npm], typescript: "//:node_modules" });',
    );
    // an import of @s/util resolves through its package.json files to the declarations tsc wrote
    expect(plan.blocks.get("packages/util/BUILD.ts")!.lines).toContain('filegroup({ name: "package_files", srcs: ["package.json"] });');
    expect(a).toContain(
      // as npm pack, the package's own files too (README, subpath package.json files), less what tsc builds
      'npm_package({ name: "package", package_json: "package.json", srcs: glob(["**"], { exclude: ["BUILD.ts", "**/*.tsbuildinfo", "dist/**"] }), deps: [":dist"], packages: ["//packages/util:package.json"] });',
    );
    expect(plan.blocks.get("packages/util/BUILD.ts")!.lines.join("\n")).toContain(
      'ts_project({ name: "dist", srcs, out_dir: "lib", deps: ["package.json", ...npm], typescript: "//:node_modules" });',
    );
    expect(plan.blocks.get("BUILD.ts")!.lines.join("\n")).toContain("the tsconfig files packages extend are its files");
  });

  it("leaves package imports of a bundle beside tsc's output to the runtime, as tsc does", () => {
    const lib = pkg({
      name: "@s/lib",
      hasTsconfig: true,
      declarations: true,
      runtimeDeps: ["graphql"],
      entries: [{ output: "./dist/index.js", source: "src/index.ts" }],
    });
    const a = planInit(scan([lib], "package-lock.json")).blocks.get("packages/a/BUILD.ts")!.lines;
    expect(a).toContain('esbuild({ name: "a", srcs, entry: "src/index.ts", format: "esm", module_name: "@s/lib", packages: "external" });');
    expect(a.join("\n")).not.toContain("const external");
  });

  it("runs the precompile script that writes a file the sources import, and gives dependents what a package ships", () => {
    const server = pkg({
      dir: "packages/server",
      name: "@s/server",
      hasTsconfig: true,
      declarations: true,
      workspaceDeps: ["@s/proto"],
      generatedFiles: ["src/generated/version.ts"],
      generator: { name: "precompile", script: "scripts/precompile.mjs", cwd: "" },
      private: false,
      npmignore: true,
      declarationSources: ["src/generated/ops.d.ts"],
      subpathManifests: ["errors/package.json"],
    });
    const proto = pkg({ dir: "packages/proto", name: "@s/proto", sources: [], shippedDirs: ["generated"] });
    const plan = planInit(scan([server, proto], "package-lock.json"));
    const s = plan.blocks.get("packages/server/BUILD.ts")!.lines;
    expect(s).toContain(
      'genrule({ name: "precompile", srcs: ["//:scripts/precompile.mjs", "//:package.json", "//packages/proto:package.json", "//packages/server:package.json"], outs: ["src/generated/version.ts"], cmd: "node scripts/precompile.mjs", tools: ["//tools:node"] });',
    );
    // its output is a source; so is a declaration file among them
    expect(s).toContain(
      'const srcs = [...glob(["src/**/*.ts"], { exclude: ["**/*.test.*", "**/*.spec.*", "**/__tests__/**"] }), ":precompile"];',
    );
    expect(s.join("\n")).toContain('deps: ["package.json", "//packages/proto:package_files", ...npm]');
    // packed as npm packs it: its files, the generated one, less what its .npmignore says
    expect(s.join("\n")).toContain(
      'srcs: [...glob(["**"], { exclude: ["BUILD.ts", "**/*.tsbuildinfo", "dist/**"] }), ":precompile", ".npmignore"], deps: [":dist"]',
    );
    expect(plan.blocks.get("packages/proto/BUILD.ts")!.lines).toContain(
      'filegroup({ name: "package_files", srcs: [...glob(["generated/**"]), "package.json"] });',
    );
    // a package script in the package itself runs from its directory
    const own = planInit(
      scan([{ ...server, generator: { name: "prebuild", script: "packages/server/gen.mjs", cwd: "packages/server" } }, proto]),
    ).blocks.get("packages/server/BUILD.ts")!.lines;
    expect(own.join("\n")).toContain('cmd: "cd packages/server && node gen.mjs"');
    // with no script for it, init says so
    const none = planInit(scan([{ ...server, generator: undefined }, proto]));
    expect(none.notes.join("\n")).toContain("src/generated/version.ts imported but missing");
  });

  it("builds each tsconfig that emits where package.json ships, with its format's package.json, and runs jest tests on what they import, built", () => {
    const types = pkg({
      dir: "packages/types",
      name: "@s/types",
      private: false,
      hasTsconfig: true,
      declarations: true,
      outDir: "dist/esm",
      module: "esnext",
      otherProjects: [{ tsconfig: "tsconfig.cjs.json", outDir: "dist/cjs", module: "commonjs", extendsInside: ["tsconfig.json"] }],
      tsconfigFiles: ["tsconfig.cjs.json", "tsconfig.json"],
      entries: [
        { output: "./dist/esm/index.js", source: "src/index.ts" },
        { output: "./dist/cjs/index.js", source: "src/index.ts" },
        { output: "./dist/esm/errors.js", source: "src/errors.ts" },
      ],
    });
    const server = pkg({
      dir: "packages/server",
      name: "@s/server",
      workspaceDeps: ["@s/types"],
      tests: ["src/__tests__/a.test.ts"],
      testRunner: "jest",
      testImports: ["@s/server"],
      testData: ["src/__tests__/__snapshots__/a.test.ts.snap", "src/__tests__/fixtures/x.key"],
      jestConfig: "jest.config.js",
      tsconfigFiles: ["src/__tests__/tsconfig.json"],
      shippedDirs: ["lib"],
    });
    const plan = planInit({
      ...scan([server, types], "package-lock.json"),
      rootJestFiles: ["jest.config.base.js"],
      rootTsconfigs: ["tsconfig.base.json"],
    });
    const t = plan.blocks.get("packages/types/BUILD.ts")!.lines;
    expect(t).toContain(
      'ts_project({ name: "dist", srcs, out_dir: "dist/esm", deps: ["package.json", ...npm], typescript: "//:node_modules", out_package_type: "module" });',
    );
    expect(t).toContain(
      'ts_project({ name: "dist_cjs", srcs, out_dir: "dist/cjs", deps: ["tsconfig.json", "package.json", ...npm], typescript: "//:node_modules", tsconfig: "tsconfig.cjs.json", out_package_type: "commonjs" });',
    );
    expect(t.join("\n")).toContain('deps: [":dist", ":dist_cjs"]');
    // tsc builds every entry package.json ships: only the main one is bundled, for the workspace's bundles
    expect(t.filter((l) => l.startsWith("esbuild("))).toEqual([
      'esbuild({ name: "types", srcs, entry: "src/index.ts", format: "esm", module_name: "@s/types", packages: "external" });',
    ]);
    const s = plan.blocks.get("packages/server/BUILD.ts")!.lines;
    expect(s).toContain(
      'node_test({ name: "test", srcs: tests, runner: "jest", data: [...srcs, ...glob(["src/**/__tests__/**/*.key", "src/**/__tests__/**/*.snap"]), "//:jest.config.base.js", "//:tsconfig.base.json", "//:package.json", "//packages/server:src/__tests__/tsconfig.json", "//packages/types:tsconfig.cjs.json", "//packages/types:tsconfig.json", "package.json"], deps: ["//packages/server:package_files", "//packages/types:dist", "//packages/types:dist_cjs", "//packages/types:package_files", ...npm], jest_config: "jest.config.js", jest: "//:node_modules" });',
    );
  });

  it("writes hb.config.ts leaving hb's own package unpinned when it was installed from its tarball", () => {
    expect(planInit(scan([pkg({})])).config).toContain("defineConfig({})");
    const fromFile = planInit({ ...scan([pkg({})], "package-lock.json"), hbFromFile: true }).config;
    expect(fromFile).toContain('npm: { allowUnpinned: ["hbuild"] },');
  });
});
