import { HbError, attr, rule, type File, type RuleContext, type Toolchain } from "@hb/core";
import { DEFAULT_TOOLS, type JsModule, jsModuleOf, requireToolchain } from "./tools";

const TS_OR_JS = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/** esbuild arguments shared by every rule that bundles. */
export function bundleArgs(o: {
  format: string;
  platform: string;
  target: string;
  minify: boolean;
  sourcemap: boolean;
  define: Record<string, string>;
  external: string[];
  modules: JsModule[];
}): string[] {
  return [
    `--format=${o.format}`,
    `--platform=${o.platform}`,
    `--target=${o.target}`,
    "--log-level=warning",
    ...(o.sourcemap ? ["--sourcemap"] : []),
    ...(o.minify ? ["--minify"] : []),
    ...Object.entries(o.define)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `--define:${k}=${v}`),
    ...[...o.external].sort().map((e) => `--external:${e}`),
    // a dependency's package name resolves to its bundle: no node_modules link needed
    ...o.modules.map((m) => `--alias:${m.name}=./${m.entry}`),
  ];
}

/** Runs esbuild (the pinned binary) to bundle `entry` into `out`, with the deps' modules aliased. */
export function bundle(
  ctx: RuleContext,
  o: {
    esbuild: Toolchain;
    entry: File;
    out: File;
    map?: File;
    srcs: File[];
    deps: { files: readonly File[]; module?: JsModule }[];
    format: string;
    platform: string;
    target: string;
    minify: boolean;
    define: Record<string, string>;
    external: string[];
  },
): void {
  const modules = o.deps.flatMap((d) => (d.module ? [d.module] : []));
  ctx.actions.run({
    executable: o.esbuild,
    arguments: [o.entry.path, "--bundle", `--outfile=${o.out.path}`, ...bundleArgs({ ...o, sourcemap: o.map !== undefined, modules })],
    inputs: [...o.srcs, ...o.deps.flatMap((d) => d.files)],
    outputs: o.map ? [o.out, o.map] : [o.out],
    mnemonic: "Esbuild",
    progressMessage: `Bundling ${o.out.path}`,
  });
}

export function fileIn(files: readonly File[], shortPath: string, label: string, attribute: string): File {
  const f = files.find((x) => x.shortPath === shortPath || x.path === shortPath);
  if (!f) {
    throw new HbError("BAD_ATTRIBUTE", `${attribute} '${shortPath}' of ${label} is not one of its srcs`, {
      hint: `add it to srcs: ${files
        .map((x) => x.shortPath)
        .slice(0, 5)
        .join(", ")}...`,
    });
  }
  return f;
}

/**
 * Transpiles or bundles JavaScript/TypeScript with esbuild, pinned as a tool. With `entry`, one
 * bundle `<name>.js` (and its source map, whose paths are relative, so machine-independent);
 * without, every source transpiled to `<name>/<path>.js`. Outputs are declared up front. A
 * `module_name` lets bundles that depend on this target import it by that name.
 */
export const esbuild = rule({
  kind: "esbuild",
  attrs: {
    srcs: attr.labelList({ doc: "sources (and what they import)" }),
    entry: attr.string({ doc: "package-relative entry point: bundle it (and what it imports)" }),
    deps: attr.labelList({ doc: "esbuild targets whose module_name the sources import" }),
    format: attr.string({ default: "esm", doc: "esm | cjs | iife" }),
    platform: attr.string({ default: "node", doc: "node | browser | neutral" }),
    target: attr.string({ default: "node20" }),
    bundle: attr.bool({ default: true, doc: "with entry: bundle imports (default true)" }),
    minify: attr.bool(),
    sourcemap: attr.bool({ default: true }),
    define: attr.stringDict(),
    external: attr.stringList({ doc: "imports left to the runtime (node: builtins always are)" }),
    module_name: attr.string({ doc: "the package name dependents import this bundle by" }),
    esbuild: attr.label({ default: DEFAULT_TOOLS.esbuild }),
  },
  impl(ctx) {
    const srcs = ctx.files("srcs");
    const deps = ctx.attr.deps.map((d) => ({ files: d.files, module: jsModuleOf(d) }));
    const common = {
      format: ctx.attr.format!,
      platform: ctx.attr.platform!,
      target: ctx.attr.target!,
      minify: ctx.attr.minify,
      define: ctx.attr.define,
      external: ctx.attr.external,
    };
    if (ctx.attr.entry) {
      const entry = fileIn(srcs, ctx.attr.entry, ctx.label, "entry");
      const out = ctx.declareFile(`${ctx.name}.js`);
      const map = ctx.attr.sourcemap ? ctx.declareFile(`${ctx.name}.js.map`) : undefined;
      const tool = requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label);
      if (ctx.attr.bundle) bundle(ctx, { ...common, esbuild: tool, entry, out, map, srcs, deps });
      else {
        ctx.actions.run({
          executable: tool,
          arguments: [entry.path, `--outfile=${out.path}`, ...bundleArgs({ ...common, sourcemap: map !== undefined, modules: [] })],
          inputs: srcs,
          outputs: map ? [out, map] : [out],
          mnemonic: "Esbuild",
        });
      }
      const provided: { files: File[]; jsModule?: JsModule } = { files: map ? [out, map] : [out] };
      if (ctx.attr.module_name) provided.jsModule = { name: ctx.attr.module_name, entry: out.path };
      return provided;
    }
    // transpile every source, keeping the package's layout under <name>/
    const inputs = srcs.filter((f) => TS_OR_JS.test(f.path) && !f.path.endsWith(".d.ts"));
    if (inputs.length === 0) throw new HbError("BAD_ATTRIBUTE", `esbuild ${ctx.label} has no sources to transpile`);
    const outs = inputs.map((f) => ctx.declareFile(`${ctx.name}/${f.shortPath.replace(TS_OR_JS, ".js")}`));
    const tool = requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label);
    const base = inputs[0]!.path.slice(0, inputs[0]!.path.length - inputs[0]!.shortPath.length - 1) || ".";
    ctx.actions.run({
      executable: tool,
      arguments: [
        ...inputs.map((f) => f.path),
        `--outdir=${ctx.ruleDir}/${ctx.name}`,
        `--outbase=${base}`,
        ...bundleArgs({ ...common, sourcemap: false, modules: [] }),
      ],
      inputs: srcs,
      outputs: outs,
      mnemonic: "Esbuild",
      progressMessage: `Transpiling ${ctx.label}`,
    });
    return { files: outs };
  },
});
