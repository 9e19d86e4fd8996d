import { HbError, attr, rule, toolchainOf, type File, type TargetRef } from "@hb/core";
import { DEFAULT_TOOLS, npmPackageDir, requireToolchain, sh, toolchainPath } from "./tools";

/**
 * What a ts_project gives the projects that reference it: its tsconfig (where tsc finds its
 * outputs) and sources (an import of one resolves to it, then to its .d.ts in out_dir).
 */
interface TsProjectInfo {
  tsconfig: File;
  srcs: File[];
  /**
   * what tsc reads of it and of every project it references, transitively: their tsconfigs (tsc
   * opens the references of a reference), sources, outputs, and the other files their deps name
   * (a base tsconfig, a package.json an import resolves through)
   */
  closure?: File[];
}

/** What tsc reads of the ts_projects among `deps` and of the projects they reference, transitively. */
export function referencedFiles(deps: readonly TargetRef[]): File[] {
  return deps.flatMap((d) => {
    const p = d.providers.tsProject as TsProjectInfo | undefined;
    return p ? (p.closure ?? [p.tsconfig, ...p.srcs]) : [];
  });
}

/**
 * Compiles a TypeScript project with tsc, as a sandboxed action: JavaScript and declarations
 * (as its tsconfig says) into `out_dir`, a directory output of this package, which the sandbox
 * shows at `<package>/<out_dir>`, beside the sources, as in a tree built in place; tsc's
 * incremental state (`<name>.tsbuildinfo`) is a declared output too. A project its tsconfig
 * `references` is a ts_project in `deps`: its tsconfig, sources and outputs (the .d.ts tsc reads
 * in place of its sources) are inputs here. A package shipping ESM and CJS has a ts_project for each
 * tsconfig, with its own out_dir. A type error fails the action with tsc's messages.
 */
export const ts_project = rule({
  kind: "ts_project",
  attrs: {
    srcs: attr.labelList({ mandatory: true, doc: "the sources the tsconfig includes" }),
    tsconfig: attr.label({ default: "tsconfig.json", doc: "the project's tsconfig.json (and a base it extends, in deps)" }),
    deps: attr.labelList({
      doc: "referenced ts_projects, npm_deps trees, other files tsc reads (a base tsconfig, declarations)",
    }),
    out_dir: attr.string({ default: "dist", doc: "package-relative directory tsc emits into (its outDir)" }),
    out_package_type: attr.string({
      doc: "module | commonjs: a package.json of that type written into out_dir, as a package shipping ESM and CJS needs (dist/cjs in a type: module package)",
    }),
    args: attr.stringList({ doc: "more tsc options" }),
    typescript: attr.label({
      default: DEFAULT_TOOLS.typescript,
      doc: "the typescript package: an npm_deps tree holding it, or its directory as a toolchain",
    }),
    node: attr.label({ default: DEFAULT_TOOLS.node }),
  },
  impl(ctx) {
    const typescript = npmPackageDir(ctx.attr.typescript, "typescript", (dir) => dir, "typescript", ctx.label);
    const node = requireToolchain(ctx.attr.node, "node", ctx.label);
    const [tsconfig] = ctx.files("tsconfig");
    const srcs = ctx.files("srcs");
    const out = ctx.declareDirectory(ctx.attr.out_dir!);
    const buildinfo = ctx.declareFile(`${ctx.name}.tsbuildinfo`);
    const referenced = referencedFiles(ctx.attr.deps);
    // the files deps name that are no toolchain (npm trees are toolchains or their own targets, passed on by label)
    const ownDeps = ctx.attr.deps.filter((d) => toolchainOf(d) === undefined && d.providers.npmDeps === undefined);
    // tsc writes where the package's sources expect its output: the package path of out_dir
    const outDir = ctx.pkg === "" ? ctx.attr.out_dir! : `${ctx.pkg}/${ctx.attr.out_dir}`;
    const tsc = [
      toolchainPath(node),
      `${typescript.dir}/lib/tsc.js`,
      "-p",
      tsconfig!.path,
      "--outDir",
      outDir,
      "--incremental",
      "--tsBuildInfoFile",
      buildinfo.path,
      "--pretty",
      "false",
      ...ctx.attr.args,
    ];
    const outType = ctx.attr.out_package_type;
    if (outType !== undefined && outType !== "module" && outType !== "commonjs")
      throw new HbError("BAD_ATTRIBUTE", `out_package_type of ${ctx.label} must be "module" or "commonjs", not '${outType}'`);
    // node reads a .js file by the nearest package.json's type: one in out_dir says what tsc emitted
    const typeFile = outType ? ` && printf '%s' ${sh(JSON.stringify({ type: outType }))} > ${sh(`${outDir}/package.json`)}` : "";
    ctx.actions.run({
      executable: "/bin/bash",
      arguments: ["-c", tsc.map(sh).join(" ") + typeFile],
      inputs: [...srcs, ...ctx.files("deps"), tsconfig!, ...referenced, ...typescript.inputs],
      toolchains: [...typescript.toolchains, node, ...ctx.attr.deps.map(toolchainOf).filter((t) => t !== undefined)],
      outputs: [out, buildinfo],
      mnemonic: "Tsc",
      progressMessage: `Compiling ${ctx.label}`,
    });
    const closure = [
      ...new Map([tsconfig!, ...srcs, out, ...referenced, ...ownDeps.flatMap((d) => d.files)].map((f) => [f.path, f])).values(),
    ];
    const provided: { files: File[]; tsProject: TsProjectInfo } = {
      files: [out, buildinfo],
      tsProject: { tsconfig: tsconfig!, srcs, closure },
    };
    return provided;
  },
});
