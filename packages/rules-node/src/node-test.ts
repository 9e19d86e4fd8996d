import { HbError, attr, rule, toolchainOf, type File, type RuleContext } from "@hb/core";
import { bundle } from "./esbuild";
import {
  DEFAULT_TOOLS,
  type JsModule,
  jsModuleOf,
  noInputs,
  npmPackageDir,
  requireToolchain,
  sh,
  testCommand,
  testTimeout,
  toolchainPath,
} from "./tools";

/**
 * A vitest config that resolves the deps' module names to their bundles, as the node runner's
 * esbuild aliases do: the user's config (an object or a function of the env), its resolve.alias
 * after these. Paths are relative to the config file, so it holds in and out of the sandbox.
 */
function vitestAliasConfig(ctx: RuleContext, modules: readonly JsModule[], user: File | undefined): File {
  const file = ctx.declareFile(`_${ctx.name}_vitest.config.mjs`);
  const up = file.path
    .split("/")
    .slice(0, -1)
    .map(() => "..")
    .join("/");
  const alias = modules.map((m) => ({ find: m.name, replacement: `${up}/${m.entry}` }));
  const content = [
    'import { fileURLToPath } from "node:url";',
    user ? `import user from ${JSON.stringify(`${up}/${user.path}`)};` : "const user = {};",
    'const base = typeof user === "function" ? await user({ command: "serve", mode: "test" }) : user;',
    `const ours = ${JSON.stringify(alias)}.map((a) => ({ find: a.find, replacement: fileURLToPath(new URL(a.replacement, import.meta.url)) }));`,
    "const theirs = base.resolve?.alias ?? [];",
    "const rest = Array.isArray(theirs) ? theirs : Object.entries(theirs).map(([find, replacement]) => ({ find, replacement }));",
    "export default { ...base, resolve: { ...base.resolve, alias: [...ours, ...rest] } };",
    "",
  ].join("\n");
  ctx.actions.write({ output: file, content });
  return file;
}

/**
 * Runs tests in the sandbox: node's built-in runner (each test file bundled with esbuild, then
 * `node --test`), or vitest (runner: "vitest", from a node_modules directory toolchain). `hb test`
 * runs it; a passing result is cached by the action key, as Bazel caches test results; a failure
 * prints its output.
 */
export const node_test = rule({
  kind: "node_test",
  test: true,
  attrs: {
    srcs: attr.labelList({ mandatory: true, doc: "test files" }),
    deps: attr.labelList({ doc: "esbuild targets the tests import (by module_name), or files they read" }),
    data: attr.labelList({ doc: "files the tests read at run time" }),
    args: attr.stringList({ doc: "extra arguments to the runner" }),
    runner: attr.string({ default: "node", doc: "node | vitest | jest" }),
    vitest_config: attr.label({ doc: "vitest: the config file (vitest.config.ts)" }),
    jest_config: attr.label({ doc: "jest: the config file (jest.config.js), its rootDir its directory" }),
    timeout: testTimeout(),
    esbuild: attr.label({ default: DEFAULT_TOOLS.esbuild }),
    node: attr.label({ default: DEFAULT_TOOLS.node }),
    vitest: attr.label({
      default: DEFAULT_TOOLS.vitest,
      doc: "vitest: the node_modules holding it, an npm_deps target (more trees it links into, as pnpm's store, in deps) or a directory toolchain",
    }),
    // no default of its own: a label default is resolved for every node_test, and vitest's tree
    // (the same //tools:node_modules) already is
    jest: attr.label({
      doc: "jest: the node_modules holding it (and what its config names: ts-jest, presets), an npm_deps target or a directory toolchain; default: vitest's",
    }),
  },
  impl(ctx) {
    const node = requireToolchain(ctx.attr.node, "node", ctx.label);
    const srcs = ctx.files("srcs");
    if (srcs.length === 0) throw noInputs(ctx.label, "test files");
    const data = ctx.files("data");
    const log = ctx.declareFile(`${ctx.name}.test.log`);
    const args = ctx.attr.args.map(sh).join(" ");
    if (ctx.attr.runner === "vitest") {
      // vitest from the lockfile's tree, as the project's own test command runs it; else a toolchain
      const runner = npmPackageDir(ctx.attr.vitest, "vitest", (dir) => `${dir}/vitest`, "vitest", ctx.label);
      const userConfig = ctx.files("vitest_config");
      const aliases = ctx.attr.deps.flatMap((d) => {
        const m = jsModuleOf(d);
        return m ? [m] : [];
      });
      const config = aliases.length > 0 ? [vitestAliasConfig(ctx, aliases, userConfig[0])] : userConfig;
      const vitest = `${runner.dir}/vitest.mjs`;
      // the node_modules tree is read-only in the sandbox: no results cache, and the config is
      // loaded in memory rather than bundled to a file beside it (hb's own cache replaces vitest's)
      const command = testCommand(
        `${sh(toolchainPath(node))} ${sh(vitest)} run --root . ${config[0] ? `--config ${sh(config[0].path)} --configLoader runner` : ""} --no-cache ${args} ${srcs.map((f) => sh(f.path)).join(" ")}`,
        log.path,
      );
      ctx.actions.run({
        executable: "/bin/bash",
        arguments: ["-c", command],
        inputs: [...srcs, ...data, ...config, ...userConfig, ...ctx.files("deps"), ...runner.inputs],
        toolchains: [node, ...runner.toolchains],
        outputs: [log],
        mnemonic: "Vitest",
        timeout: ctx.attr.timeout,
        progressMessage: `Testing ${ctx.label}`,
      });
      return { files: [], test: { log: log.path } };
    }
    if (ctx.attr.runner === "jest") {
      // jest from the lockfile's tree, with the project's own config (ts-jest, its transforms and
      // setup files are data): the files given are run, those its testRegex/testMatch takes
      const runner = npmPackageDir(ctx.attr.jest ?? ctx.attr.vitest, "jest", (dir) => `${dir}/jest`, "jest", ctx.label);
      const config = ctx.files("jest_config");
      const where = config[0] ? `--config ${sh(config[0].path)}` : `--rootDir ${sh(ctx.pkg === "" ? "." : ctx.pkg)}`;
      // no watchman, no cache to keep (hb caches the result), no colours in the log
      const command = testCommand(
        `${sh(toolchainPath(node))} ${sh(`${runner.dir}/bin/jest.js`)} ${where} --ci --no-watchman --color=false ${args} --runTestsByPath ${srcs.map((f) => sh(f.path)).join(" ")}`,
        log.path,
      );
      ctx.actions.run({
        executable: "/bin/bash",
        arguments: ["-c", command],
        inputs: [...srcs, ...data, ...config, ...ctx.files("deps"), ...runner.inputs],
        toolchains: [node, ...runner.toolchains, ...ctx.attr.deps.map(toolchainOf).filter((t) => t !== undefined)],
        outputs: [log],
        mnemonic: "Jest",
        timeout: ctx.attr.timeout,
        progressMessage: `Testing ${ctx.label}`,
      });
      return { files: [], test: { log: log.path } };
    }
    if (ctx.attr.runner !== "node")
      throw new HbError("BAD_ATTRIBUTE", `runner of ${ctx.label} must be "node", "vitest" or "jest", not '${ctx.attr.runner}'`);
    const esbuild = requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label);
    const deps = ctx.attr.deps.map((d) => ({ files: d.files, module: jsModuleOf(d) }));
    const bundles: File[] = srcs.map((src) => {
      const out = ctx.declareFile(`${ctx.name}/${src.shortPath.replace(/\.[cm]?[jt]sx?$/, "")}.mjs`);
      bundle(ctx, {
        esbuild,
        points: [{ entry: src, out }],
        srcs: [...srcs, ...data],
        deps,
        format: "esm",
        platform: "node",
        target: "node20",
        minify: false,
        define: {},
        external: [],
      });
      return out;
    });
    ctx.actions.run({
      executable: "/bin/bash",
      arguments: ["-c", testCommand(`${sh(toolchainPath(node))} --test ${args} ${bundles.map((f) => sh(f.path)).join(" ")}`, log.path)],
      inputs: [...bundles, ...data],
      toolchains: [node],
      outputs: [log],
      mnemonic: "NodeTest",
      timeout: ctx.attr.timeout,
      progressMessage: `Testing ${ctx.label}`,
    });
    return { files: bundles, test: { log: log.path } };
  },
});
