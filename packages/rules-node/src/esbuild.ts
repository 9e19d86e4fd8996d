import { HbError, attr, rule, type File, type PackageType, type RuleContext, type Toolchain } from "@hb/core";
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
  /** "external": every bare import (a package) left to the runtime, but the deps' aliased modules */
  packages?: string;
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
    ...(o.packages === "external" ? ["--packages=external"] : []),
    // a dependency's package name resolves to its bundle: no node_modules link needed
    ...o.modules.map((m) => `--alias:${m.name}=./${m.entry}`),
  ];
}

/** A bundle to write: its entry point, and the declared output (and source map) it becomes. */
export interface EntryPoint {
  entry: File;
  out: File;
  map?: File;
}

/** The files entry points become, each bundle followed by its map. */
function filesOf(points: readonly EntryPoint[]): File[] {
  return points.flatMap((p) => (p.map ? [p.out, p.map] : [p.out]));
}

/**
 * What tells esbuild the entry points and where each goes: one is written to its file; several in
 * esbuild's `out=in` form under the package's output directory, all of one extension.
 */
function entryArgs(ctx: RuleContext, points: readonly EntryPoint[], bundled: boolean): string[] {
  const bundleFlag = bundled ? ["--bundle"] : [];
  if (points.length === 1) return [points[0]!.entry.path, ...bundleFlag, `--outfile=${points[0]!.out.path}`];
  const ext = /\.[cm]?js$/.exec(points[0]!.out.path)![0];
  return [
    ...points.map((p) => `${p.out.shortPath.slice(0, -ext.length)}=${p.entry.path}`),
    ...bundleFlag,
    `--outdir=${ctx.ruleDir}`,
    ...outExtensionArgs(ext),
  ];
}

/** esbuild names what it writes `.js` unless told otherwise. */
function outExtensionArgs(ext: string): string[] {
  return ext === ".js" ? [] : [`--out-extension:.js=${ext}`];
}

/** Runs esbuild (the pinned binary) to bundle each entry point into its out, with the deps' modules aliased. */
export function bundle(
  ctx: RuleContext,
  o: {
    esbuild: Toolchain;
    points: readonly EntryPoint[];
    srcs: File[];
    deps: { files: readonly File[]; module?: JsModule }[];
    format: string;
    platform: string;
    target: string;
    minify: boolean;
    define: Record<string, string>;
    external: string[];
    packages?: string;
  },
): void {
  const modules = o.deps.flatMap((d) => (d.module ? [d.module] : []));
  ctx.actions.run({
    executable: o.esbuild,
    arguments: [...entryArgs(ctx, o.points, true), ...bundleArgs({ ...o, sourcemap: o.points.some((p) => p.map !== undefined), modules })],
    inputs: [...o.srcs, ...o.deps.flatMap((d) => d.files)],
    outputs: filesOf(o.points),
    mnemonic: "Esbuild",
    progressMessage: `Bundling ${o.points.length === 1 ? o.points[0]!.out.path : ctx.label}`,
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

const FORMATS = ["esm", "cjs", "iife"];
const EXTENSIONS = [".js", ".mjs", ".cjs"];

/**
 * The extension of what esbuild writes. Node reads a `.js` file as its package's `type` says, so an
 * ESM bundle in a CommonJS package is `.mjs` and a CJS one in an ESM package `.cjs` (as
 * node_binary writes `.mjs` whatever the type); where the type already says the format, `.js`.
 */
function outExtension(label: string, format: string, chosen: string | undefined, packageType: () => PackageType): string {
  if (!FORMATS.includes(format)) throw new HbError("BAD_ATTRIBUTE", `format of ${label} must be esm, cjs or iife, not '${format}'`);
  if (chosen) {
    if (!EXTENSIONS.includes(chosen))
      throw new HbError("BAD_ATTRIBUTE", `out_extension of ${label} must be .js, .mjs or .cjs, not '${chosen}'`);
    // node reads .mjs as ESM and .cjs as CommonJS whatever the package says: the other format would not load
    if ((format === "esm" && chosen === ".cjs") || (format === "cjs" && chosen === ".mjs"))
      throw new HbError(
        "BAD_ATTRIBUTE",
        `${label} writes format ${format} to a ${chosen} file, which node would read as the other format`,
        {
          hint: `use ${format === "esm" ? ".mjs" : ".cjs"} or .js, or leave out_extension out: it follows the package's type`,
        },
      );
    return chosen;
  }
  if (format === "esm") return packageType() === "module" ? ".js" : ".mjs";
  if (format === "cjs") return packageType() === "module" ? ".cjs" : ".js";
  return ".js";
}

/** The bundles' names and entry points: `entry` as the target's name, or each of `entries` as its key; none to transpile. */
function entryPoints(
  label: string,
  name: string,
  srcs: readonly File[],
  entry: string | undefined,
  entries: Readonly<Record<string, string>>,
): { name: string; entry: File }[] | undefined {
  const keys = Object.keys(entries);
  if (entry && keys.length > 0) {
    throw new HbError("BAD_ATTRIBUTE", `esbuild ${label} has both entry and entries`, {
      hint: `give one bundle as entry (named ${name}), or every bundle as entries: { "<output name>": "<entry point>" }`,
    });
  }
  if (entry) return [{ name, entry: fileIn(srcs, entry, label, "entry") }];
  if (keys.length === 0) return undefined;
  return keys.map((key) => {
    if (/\.[cm]?js$/.test(key))
      throw new HbError("BAD_ATTRIBUTE", `entries key '${key}' of ${label} names an output with its extension`, {
        hint: `write '${key.replace(/\.[cm]?js$/, "")}': the extension follows format and the package's type (out_extension sets it)`,
      });
    // esbuild reads an entry point given as out=in up to its first '='
    if (key.includes("=")) throw new HbError("BAD_ATTRIBUTE", `entries key '${key}' of ${label} may not contain '='`);
    return { name: key, entry: fileIn(srcs, entries[key]!, label, `entries['${key}']`) };
  });
}

/**
 * Transpiles or bundles JavaScript/TypeScript with esbuild, pinned as a tool. With `entry`, one
 * bundle `<name>.js`; with `entries`, one per key, named by it; each with its source map (whose
 * paths are relative, so machine-independent). Without either, every source transpiled to
 * `<name>/<path>.js`. The extension follows the format and the package's type (`.mjs` for ESM in
 * a CommonJS package, `.cjs` for CJS in an ESM one). Outputs are declared up front. A
 * `module_name` lets bundles that depend on this target import it by that name: its `index`
 * entry's bundle, or its first's.
 */
export const esbuild = rule({
  kind: "esbuild",
  attrs: {
    srcs: attr.labelList({ doc: "sources (and what they import)" }),
    entry: attr.string({ doc: "package-relative entry point: bundle it (and what it imports)" }),
    entries: attr.stringDict({ doc: "output name (package-relative, no extension) -> entry point: one bundle each" }),
    deps: attr.labelList({ doc: "esbuild targets whose module_name the sources import" }),
    format: attr.string({ default: "esm", doc: "esm | cjs | iife" }),
    platform: attr.string({ default: "node", doc: "node | browser | neutral" }),
    target: attr.string({ default: "node20" }),
    bundle: attr.bool({ default: true, doc: "with entry or entries: bundle imports (default true)" }),
    minify: attr.bool(),
    sourcemap: attr.bool({ default: true }),
    define: attr.stringDict(),
    external: attr.stringList({ doc: "imports left to the runtime (node: builtins always are)" }),
    packages: attr.string({
      default: "bundle",
      doc: "bundle | external: every package import left to the runtime, as tsc leaves it (the deps' module names are still bundled)",
    }),
    out_extension: attr.string({ doc: ".js | .mjs | .cjs; by default it follows format and the package's type" }),
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
      packages: ctx.attr.packages!,
    };
    if (common.packages !== "bundle" && common.packages !== "external")
      throw new HbError("BAD_ATTRIBUTE", `packages of ${ctx.label} must be "bundle" or "external", not '${common.packages}'`);
    const ext = outExtension(ctx.label, common.format, ctx.attr.out_extension, () => ctx.packageType);
    const named = entryPoints(ctx.label, ctx.name, srcs, ctx.attr.entry, ctx.attr.entries);
    if (named) {
      const points: EntryPoint[] = named.map((p) => ({
        entry: p.entry,
        out: ctx.declareFile(`${p.name}${ext}`),
        map: ctx.attr.sourcemap ? ctx.declareFile(`${p.name}${ext}.map`) : undefined,
      }));
      const tool = requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label);
      if (ctx.attr.bundle) bundle(ctx, { ...common, esbuild: tool, points, srcs, deps });
      else {
        ctx.actions.run({
          executable: tool,
          arguments: [...entryArgs(ctx, points, false), ...bundleArgs({ ...common, sourcemap: ctx.attr.sourcemap, modules: [] })],
          inputs: srcs,
          outputs: filesOf(points),
          mnemonic: "Esbuild",
        });
      }
      const provided: { files: File[]; jsModule?: JsModule } = { files: filesOf(points) };
      if (ctx.attr.module_name) {
        // the bundle a bare import of the package means: its index, as node resolves a directory
        const main = named.findIndex((p) => p.name === "index" || p.name.endsWith("/index"));
        provided.jsModule = { name: ctx.attr.module_name, entry: points[Math.max(main, 0)]!.out.path };
      }
      return provided;
    }
    // transpile every source, keeping the package's layout under <name>/
    const inputs = srcs.filter((f) => TS_OR_JS.test(f.path) && !f.path.endsWith(".d.ts"));
    if (inputs.length === 0) throw new HbError("BAD_ATTRIBUTE", `esbuild ${ctx.label} has no sources to transpile`);
    const outs = inputs.map((f) => ctx.declareFile(`${ctx.name}/${f.shortPath.replace(TS_OR_JS, ext)}`));
    const tool = requireToolchain(ctx.attr.esbuild, "esbuild", ctx.label);
    const base = inputs[0]!.path.slice(0, inputs[0]!.path.length - inputs[0]!.shortPath.length - 1) || ".";
    ctx.actions.run({
      executable: tool,
      arguments: [
        ...inputs.map((f) => f.path),
        `--outdir=${ctx.ruleDir}/${ctx.name}`,
        `--outbase=${base}`,
        ...outExtensionArgs(ext),
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
