import { attr, rule, toolchainOf } from "@hb/core";
import { DEFAULT_TOOLS, noInputs, npmPackageDir, requireToolchain, sh, testCommand, testTimeout, toolchainPath } from "./tools";

/**
 * Type checks with the TypeScript compiler, as a sandboxed action: a test-like target that passes
 * or fails (`hb test`), cached by the digests of everything tsc reads.
 */
export const ts_check = rule({
  kind: "ts_check",
  test: true,
  attrs: {
    srcs: attr.labelList({ doc: "the sources tsconfig includes" }),
    deps: attr.labelList({ doc: "more files tsc reads: other packages' sources, declaration files, a base tsconfig" }),
    tsconfig: attr.label({ mandatory: true, doc: "the tsconfig.json to check with (tsc -p)" }),
    types: attr.labelList({ doc: "directory toolchains tsc resolves types or modules from (node_modules/@types/node, node_modules)" }),
    typescript: attr.label({
      default: DEFAULT_TOOLS.typescript,
      doc: "the typescript package: an npm_deps tree holding it, or its directory as a toolchain",
    }),
    node: attr.label({ default: DEFAULT_TOOLS.node }),
    timeout: testTimeout(),
  },
  impl(ctx) {
    const typescript = npmPackageDir(ctx.attr.typescript, "typescript", (dir) => dir, "typescript", ctx.label);
    const node = requireToolchain(ctx.attr.node, "node", ctx.label);
    const types = ctx.attr.types.map((t) => requireToolchain(t, "types", ctx.label));
    const [tsconfig] = ctx.files("tsconfig");
    if (ctx.files("srcs").length === 0) throw noInputs(ctx.label, "sources to check");
    const log = ctx.declareFile(`${ctx.name}.test.log`);
    const tsc = `${typescript.dir}/lib/tsc.js`;
    ctx.actions.run({
      executable: "/bin/bash",
      arguments: ["-c", testCommand(`${sh(toolchainPath(node))} ${sh(tsc)} --noEmit --pretty false -p ${sh(tsconfig!.path)}`, log.path)],
      inputs: [...ctx.files("srcs"), ...ctx.files("deps"), tsconfig!, ...typescript.inputs],
      toolchains: [...typescript.toolchains, node, ...types, ...ctx.attr.deps.map(toolchainOf).filter((t) => t !== undefined)],
      outputs: [log],
      mnemonic: "TsCheck",
      timeout: ctx.attr.timeout,
      progressMessage: `Type checking ${ctx.label}`,
    });
    return { files: [], test: { log: log.path } };
  },
});
