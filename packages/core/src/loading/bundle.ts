import type { Message, Plugin } from "esbuild";
import { realpathSync, statSync } from "node:fs";
import { join, posix, relative, resolve, sep } from "node:path";
import { HbError } from "../base/errors";
import { vcsDirOf } from "../workspace/config";

/** hb's API modules (`@hb/core`, rules packages): provided by the evaluator, never bundled */
const API_SCOPE = "@hb/";

export interface BundledFile {
  /** workspace-relative path of the BUILD.ts (or hb.config.ts) */
  entry: string;
  code: string;
  /** source map JSON, sources relative to the workspace root */
  map: string;
  /** workspace-relative paths of every file bundled into it (the entry and what it imports) */
  inputs: string[];
  /**
   * What resolving the imports of this bundling looked at (workspace-relative): paths tried and
   * missing, where a file added would be picked instead, and the paths picked as written (a
   * symlink retargeted changes what they read, not the real paths in `inputs`).
   */
  lookedUp: { missing: string[]; found: string[] };
}

/** esbuild's order for an import without an extension, as `resolveExtensions` below says. */
const EXTENSIONS = [".ts", ".js", ".mts", ".mjs", ".json"];

const OUT = ".hb-bundle";

/**
 * Only relative imports inside the workspace and hb's own API are allowed: a BUILD.ts is data
 * about the build, and what it may reach decides what the analysis cache must watch.
 */
function importGuard(root: string, lookedUp: { missing: Set<string>; found: Set<string> }): Plugin {
  const realRoot = realpathSync(root);
  const rel = (p: string) => relative(realRoot, p).split(sep).join("/");
  /** the candidates esbuild tries for a relative import, in its order, up to the one it picks */
  const record = (resolveDir: string, spec: string) => {
    const base = resolve(resolveDir, spec);
    // TypeScript's style: an import of x.js may be the file x.ts
    const rewritten = /\.m?js$/.test(base) ? [base.replace(/\.(m?)js$/, ".$1ts")] : [];
    for (const c of [base, ...rewritten, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, `index${e}`))]) {
      const st = statSync(c, { throwIfNoEntry: false });
      if (!st) lookedUp.missing.add(rel(c));
      else if (st.isFile()) {
        lookedUp.found.add(rel(c));
        return;
      }
    }
  };
  return {
    name: "hb-imports",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point" || args.pluginData === "hb-resolving") return undefined;
        if (args.path.startsWith(API_SCOPE)) return { path: args.path, external: true };
        if (!args.path.startsWith(".") && !args.path.startsWith("/")) {
          return {
            errors: [{ text: `BUILD.ts files may import only relative files and hb's API (@hb/core, rules packages such as @hb/rules-node), not '${args.path}'` }],
          };
        }
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "hb-resolving" });
        if (r.errors.length > 0) return { errors: r.errors };
        record(args.resolveDir, args.path);
        const real = realpathSync(r.path);
        if (!real.startsWith(realRoot + sep) || real.split(sep).includes("node_modules")) {
          return { errors: [{ text: `'${args.path}' resolves to ${real}, outside the workspace's own sources` }] };
        }
        const vcs = vcsDirOf(rel(real));
        if (vcs) return { errors: [{ text: `'${args.path}' resolves to ${real}, inside ${vcs}/: version-control metadata is never read by BUILD.ts files` }] };
        return { path: r.path };
      });
    },
  };
}

function toHbError(m: Message, root: string): HbError {
  const loc = m.location;
  return new HbError("BUILD_FILE_SYNTAX", m.text, {
    location: loc ? { file: relative(root, resolve(root, loc.file)).split(sep).join("/"), line: loc.line, column: loc.column + 1 } : undefined,
  });
}

/** Bundles BUILD.ts files (and the local files they import) in one esbuild call. */
export async function bundleBuildFiles(root: string, entries: readonly string[]): Promise<Map<string, BundledFile>> {
  const esbuild = await import("esbuild");
  const out = new Map<string, BundledFile>();
  if (entries.length === 0) return out;
  const looked = { missing: new Set<string>(), found: new Set<string>() };
  // esbuild names an entry point by its real path: a symlinked BUILD.ts (or package directory)
  // is found again under the name it was asked for
  const realRoot = realpathSync(root);
  const asked = new Map<string, string[]>();
  for (const e of entries) {
    const realEntry = realpathSync(join(root, e));
    const real = relative(realRoot, realEntry).split(sep).join("/");
    if (real.startsWith("../")) throw new HbError("SYMLINK_ESCAPE", `${e} is a symlink leading outside the workspace, to ${realEntry}`);
    const vcs = vcsDirOf(real);
    if (vcs) throw new HbError("SYMLINK_ESCAPE", `${e} is a symlink into ${vcs}/ (${realEntry}): version-control metadata is never read by BUILD.ts files`);
    asked.set(real, [...(asked.get(real) ?? []), e]);
  }
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [...entries],
      bundle: true,
      write: false,
      format: "cjs",
      platform: "neutral",
      target: "es2022",
      outdir: OUT,
      outbase: ".",
      sourcemap: "external",
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      mainFields: [],
      resolveExtensions: EXTENSIONS,
      // BUILD.ts is compiled the same whatever tsconfig.json lies around it (in or above the
      // workspace): its result may depend only on files the analysis cache watches
      tsconfigRaw: {},
      plugins: [importGuard(root, looked)],
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (errors && errors.length > 0) throw toHbError(errors[0]!, root);
    throw e;
  }
  const lookedUp = { missing: [...looked.missing].sort(), found: [...looked.found].sort() };
  const files = new Map(result.outputFiles.map((f) => [relative(root, f.path).split(sep).join("/"), f.text]));
  for (const [outPath, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint || !outPath.endsWith(".js")) continue;
    const map = JSON.parse(files.get(`${outPath}.map`) ?? "{}") as { sources?: string[] };
    // Make the map's sources workspace-relative, whatever directory the bundle was written for.
    map.sources = (map.sources ?? []).map((s) => posix.normalize(posix.join(posix.dirname(outPath), s)));
    for (const entry of asked.get(meta.entryPoint) ?? [meta.entryPoint]) {
      out.set(entry, { entry, code: files.get(outPath) ?? "", map: JSON.stringify(map), inputs: Object.keys(meta.inputs).sort(), lookedUp });
    }
  }
  return out;
}
