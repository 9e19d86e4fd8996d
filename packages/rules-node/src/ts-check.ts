import { attr, rule, toolchainOf } from "@hb/core";
import { referencedFiles } from "./ts-project";
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
    compiler: attr.label({
      doc: "TypeScript 7: the platform package holding its native compiler, a directory toolchain (node_modules/@typescript/typescript-linux-x64)",
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
    const compiler = ctx.attr.compiler ? requireToolchain(ctx.attr.compiler, "compiler", ctx.label) : undefined;
    const log = ctx.declareFile(`${ctx.name}.test.log`);
    // TypeScript 5's lib/tsc.js is the compiler; TypeScript 7's starts the native one, which it
    // resolves from the platform package beside it: in the sandbox only when declared (compiler).
    // Whether it is 7 shows only when it runs (analysis reads no package.json): a failure says so
    // then, with bash builtins alone (strict mode has no grep)
    const ts = typescript.dir;
    // a composite or incremental tsconfig would write its .tsbuildinfo beside the sources (read
    // only here): a check keeps no state, hb caches its result
    const check = `${sh(toolchainPath(node))} ${sh(`${ts}/lib/tsc.js`)} --noEmit --composite false --incremental false --pretty false -p ${sh(tsconfig!.path)}`;
    const command = compiler
      ? check
      : `${check} || { hb_rc=$?; if [[ -f ${sh(`${ts}/lib/getExePath.js`)} ]]; then echo "hb: ${ctx.label} runs TypeScript 7, whose compiler is the platform package beside it: declare it, local_toolchain({ name: 'typescript_native', path: 'node_modules/@typescript/typescript-linux-x64' }), and give it as compiler"; fi; exit $hb_rc; }`;
    ctx.actions.run({
      executable: "/bin/bash",
      arguments: ["-c", testCommand(command, log.path)],
      // a ts_project in deps brings what tsc reads of it and of the projects it references
      inputs: [...ctx.files("srcs"), ...ctx.files("deps"), ...referencedFiles(ctx.attr.deps), tsconfig!, ...typescript.inputs],
      toolchains: [
        ...typescript.toolchains,
        node,
        ...(compiler ? [compiler] : []),
        ...types,
        ...ctx.attr.deps.map(toolchainOf).filter((t) => t !== undefined),
      ],
      outputs: [log],
      mnemonic: "TsCheck",
      timeout: ctx.attr.timeout,
      progressMessage: `Type checking ${ctx.label}`,
    });
    return { files: [], test: { log: log.path } };
  },
});
