import type { Message, Plugin } from "esbuild";
import { realpathSync, statSync } from "node:fs";
import { join, posix, relative, resolve, sep } from "node:path";
import { HbError } from "../base/errors";
import { HB_PACKAGE, isApiImport } from "../base/package-name";
import { vcsDirOf } from "../workspace/config";
import { type IgnoreRules, isIgnored } from "./package-tree";

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
const EXTENSIONS = [".ts", ".js", ".mts", ".mjs"];

/** what a BUILD.ts may import: code, never data (a key, a token file) read as text or JSON */
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** What may not be bundled besides what the guard always refuses: ignored directories, hidden files. */
export interface BundleLimits {
  rules: IgnoreRules;
  /** absolute paths no BUILD.ts may read: the output base, hb-out, signing keys */
  hidden: ReadonlySet<string>;
}

const OUT = ".hb-bundle";

/** Why a BUILD.ts may not read `path` (absolute, as esbuild names it), if it may not. */
function readRefusal(realRoot: string, limits: BundleLimits, path: string, attributes: Record<string, string>): string | undefined {
  if (Object.keys(attributes).length > 0)
    return `import attributes (with { type: ... }) read files as data, which BUILD.ts files may not: ${path}`;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined; // esbuild reports the missing file itself
  }
  const r = relative(realRoot, real).split(sep).join("/");
  if (r.startsWith("../") || r === "..") return `${path} resolves to ${real}, outside the workspace`;
  const vcs = vcsDirOf(r);
  if (vcs) return `${path} resolves to ${real}, inside ${vcs}/: version-control metadata is never read by BUILD.ts files`;
  if (isIgnored(r, limits.rules))
    return `${path} resolves to ${real}, in a directory hb never reads (ignored): not the workspace's own sources`;
  if (limits.hidden.has(real) || [...limits.hidden].some((h) => real.startsWith(h + sep)))
    return `${path} is hidden from BUILD.ts files (hb's state, outputs or keys)`;
  if (!CODE.test(real)) return `${path} is not code (.ts, .js, .mts, .mjs, .cts, .cjs): BUILD.ts files import code, never data files`;
  return undefined;
}

/**
 * Only relative imports of code inside the workspace and hb's own API are allowed: a BUILD.ts is
 * data about the build, what it may reach decides what the analysis cache must watch, and this
 * bundling runs in hb's own process, outside the evaluator's sandbox. Every file esbuild loads is
 * checked where it loads it (a template-literal import is expanded by esbuild itself, without
 * asking the resolver).
 */
function importGuard(root: string, lookedUp: { missing: Set<string>; found: Set<string> }, limits: BundleLimits): Plugin {
  const realRoot = realpathSync(root);
  const rel = (p: string) => relative(realRoot, p).split(sep).join("/");
  const refusal = (path: string, attributes: Record<string, string>) => readRefusal(realRoot, limits, path, attributes);
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
        if (isApiImport(args.path)) return { path: args.path, external: true };
        if (!args.path.startsWith(".") && !args.path.startsWith("/")) {
          return {
            errors: [
              {
                text: `BUILD.ts files may import only relative files and hb's API (${HB_PACKAGE}, ${HB_PACKAGE}/rules-node), not '${args.path}'`,
              },
            ],
          };
        }
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "hb-resolving" });
        if (r.errors.length > 0) return { errors: r.errors };
        record(args.resolveDir, args.path);
        const why = refusal(r.path, args.with);
        if (why) return { errors: [{ text: `'${args.path}': ${why}` }] };
        return { path: r.path };
      });
      build.onLoad({ filter: /.*/ }, (args) => {
        const why = refusal(args.path, args.with);
        return why ? { errors: [{ text: why }] } : undefined;
      });
    },
  };
}

function toHbError(m: Message, root: string): HbError {
  const loc = m.location;
  return new HbError("BUILD_FILE_SYNTAX", m.text, {
    location: loc
      ? { file: relative(root, resolve(root, loc.file)).split(sep).join("/"), line: loc.line, column: loc.column + 1 }
      : undefined,
  });
}

/** Bundles BUILD.ts files (and the local files they import) in one esbuild call. */
export async function bundleBuildFiles(root: string, entries: readonly string[], limits: BundleLimits): Promise<Map<string, BundledFile>> {
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
    if (vcs)
      throw new HbError(
        "SYMLINK_ESCAPE",
        `${e} is a symlink into ${vcs}/ (${realEntry}): version-control metadata is never read by BUILD.ts files`,
      );
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
      plugins: [importGuard(root, looked, limits)],
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (errors && errors.length > 0) throw toHbError(errors[0]!, root);
    throw e;
  }
  // whatever esbuild read, however it came to read it, passed the guard
  for (const input of Object.keys(result.metafile.inputs)) {
    const why = readRefusal(realRoot, limits, resolve(root, input), {});
    if (why) throw new HbError("FORBIDDEN_IN_BUILD_FILE", why);
  }
  const lookedUp = { missing: [...looked.missing].sort(), found: [...looked.found].sort() };
  const files = new Map(result.outputFiles.map((f) => [relative(root, f.path).split(sep).join("/"), f.text]));
  for (const [outPath, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint || !outPath.endsWith(".js")) continue;
    const map = JSON.parse(files.get(`${outPath}.map`) ?? "{}") as { sources?: string[] };
    // Make the map's sources workspace-relative, whatever directory the bundle was written for.
    map.sources = (map.sources ?? []).map((s) => posix.normalize(posix.join(posix.dirname(outPath), s)));
    for (const entry of asked.get(meta.entryPoint) ?? [meta.entryPoint]) {
      out.set(entry, {
        entry,
        code: files.get(outPath) ?? "",
        map: JSON.stringify(map),
        inputs: Object.keys(meta.inputs).sort(),
        lookedUp,
      });
    }
  }
  return out;
}
