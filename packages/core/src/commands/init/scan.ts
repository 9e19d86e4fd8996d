import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, posix, relative } from "node:path";
import type FastGlob from "fast-glob";
import type { ParseError } from "jsonc-parser";
import { HbError } from "../../base/errors";
import { sha256Hex } from "../../base/digest";
import { LOCKFILE_NAMES } from "../../fetch/lockfile";
import { ALWAYS_IGNORED } from "../../workspace/config";
import { HB_PACKAGE } from "../../base/package-name";

/** What `hb init` reads of a workspace, as plain data: the input of `planInit`. */
export interface WorkspaceScan {
  packageManager: "npm" | "pnpm" | "yarn";
  /** workspace-relative, or undefined when the workspace has none yet */
  lockfile: string | undefined;
  packages: ScannedPackage[];
  tools: ScannedTools;
  /** root-level tsconfig files others extend (workspace-relative) */
  rootTsconfigs: string[];
  /** root-level jest files a package's jest config may import (jest.config.base.js, jest.setup.js) */
  rootJestFiles: string[];
  /** hb itself is installed from a tarball or a directory (not the registry), so the lockfile cannot pin it */
  hbFromFile: boolean;
  /** which of the tools' packages the lockfile pins: those come from the npm_deps tree, the others from //tools */
  locked: { typescript: boolean; typesNode: boolean };
  /** what the user should know about how init read the workspace */
  notes: string[];
}

export interface ScannedPackage {
  /** workspace-relative directory, "" for the root */
  dir: string;
  name: string | undefined;
  private: boolean;
  /** package.json `type` */
  type: "module" | "commonjs";
  /** source files (package-relative), tests excluded */
  sources: string[];
  tests: string[];
  testRunner: "vitest" | "node" | "jest" | undefined;
  /** entry points: what package.json ships (main/module/exports), mapped back to a source file */
  entries: { output: string; source: string }[];
  /** shipped paths whose source init could not find */
  unmappedEntries: string[];
  bins: { name: string; source: string }[];
  /** package.json dependencies (all kinds) that are packages of this workspace */
  workspaceDeps: string[];
  /** names in dependencies and peerDependencies (left to the runtime by a library's bundle) */
  runtimeDeps: string[];
  hasTsconfig: boolean;
  /** tsconfig's outDir (package-relative), if set */
  outDir: string | undefined;
  /** tsconfig's module (lower case), if set */
  module: string | undefined;
  /** the package's other tsconfig files that emit where package.json ships too (tsconfig.cjs.json into dist/cjs) */
  otherProjects: { tsconfig: string; outDir: string; module: string | undefined; extendsInside: string[] }[];
  /** the package ships declarations (tsconfig's declaration or composite, package.json's types) */
  declarations: boolean;
  /** workspace-relative tsconfig files this package's tsconfig extends, outside the package */
  tsconfigExtends: string[];
  /** package.json scripts init does not turn into targets */
  otherScripts: string[];
  /** the lockfile has entries of this package's own (pnpm's importer, npm's packages/x/node_modules/...) */
  ownNpmEntries: boolean;
  /** files its sources import that are not there (package-relative, as TypeScript sources): a script makes them */
  generatedFiles: string[];
  /** the script that makes them: a `node <file>` pre-build script (`precompile`, `prebuild`) of the package or the root */
  generator: { name: string; script: string; cwd: string } | undefined;
  /** declaration files among the sources (hand-written, or generated and checked in), package-relative */
  declarationSources: string[];
  /** package.json files below the package's own (`errors/package.json`: a subpath for resolvers that read no exports), package-relative */
  subpathManifests: string[];
  /** the package has a .npmignore (what npm pack leaves out without a files field) */
  npmignore: boolean;
  /** the package's jest config file (jest.config.js), package-relative */
  jestConfig: string | undefined;
  /** every tsconfig file of the package (tests' own too), package-relative */
  tsconfigFiles: string[];
  /** what tests read beside them that is no code (snapshots, fixtures), package-relative */
  testData: string[];
  /** the workspace packages its tests import by name (itself too) */
  testImports: string[];
  /** the top directories of what package.json ships (exports, main, module, types), package-relative */
  shippedDirs: string[];
}

export interface ScannedTools {
  /** the esbuild native binary: path (workspace-relative when inside it) and sha256 */
  esbuild: { path: string; sha256: string } | undefined;
  node: string;
  typescript: string | undefined;
  typesNode: string | undefined;
  nodeModules: boolean;
}

/**
 * The parsers init needs, loaded when it runs: no other command pays for them. (yaml is CommonJS:
 * bundled, a dynamic import of it has its exports under `default` only.)
 */
interface Parsers {
  fg: typeof FastGlob;
  parseJsonc: typeof import("jsonc-parser").parse;
  parseYaml: typeof import("yaml").parse;
}
let parsers: Parsers;

/** directories whose files tests read: snapshots and fixtures beside them */
export const TEST_DATA_DIRS = ["__tests__", "__snapshots__", "__fixtures__", "fixtures"];
const CODE_EXTENSIONS = ["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];
const TEST_FILE = /(\.|\/|^)(test|spec)\.[cm]?[jt]sx?$|(^|\/)__tests__\//;
/** directories that hold what a build makes or installs, never sources */
const NOT_SOURCES = [
  "**/BUILD.ts",
  "hb.config.ts",
  ...ALWAYS_IGNORED.map((d) => `**/${d}/**`),
  "**/dist/**",
  "**/build/**",
  "**/lib/**",
  "**/coverage/**",
  "**/.*/**",
  "**/*.d.ts",
  "**/*.d.mts",
  "**/*.d.cts",
];
/** scripts init turns into targets (build, test and type check are what it generates) */
const KNOWN_SCRIPTS = new Set([
  "build",
  "compile",
  "test",
  "typecheck",
  "type-check",
  "tsc",
  "prepublishOnly",
  "prepack",
  "prepare",
  "clean",
  "lint",
  "watch",
  "dev",
  "format",
]);

function readJson(root: string, file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(root, file), "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new HbError("BAD_WORKSPACE", `${file} is not valid JSON: ${(e as Error).message}`, { hint: "fix it, then run hb init again" });
  }
}

function readJsonc(root: string, file: string): Record<string, unknown> {
  const errors: ParseError[] = [];
  const value = parsers.parseJsonc(readFileSync(join(root, file), "utf8"), errors, { allowTrailingComma: true }) as unknown;
  if (errors.length > 0 || typeof value !== "object" || value === null) {
    throw new HbError("BAD_WORKSPACE", `${file} is not valid JSON (with comments)`, { hint: "fix it, then run hb init again" });
  }
  return value as Record<string, unknown>;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const record = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** The package directories the workspace declares (npm and yarn `workspaces`, pnpm-workspace.yaml). */
function workspacePatterns(root: string, rootJson: Record<string, unknown>): string[] {
  if (existsSync(join(root, "pnpm-workspace.yaml"))) {
    let parsed: unknown;
    try {
      parsed = parsers.parseYaml(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8"));
    } catch (e) {
      throw new HbError("BAD_WORKSPACE", `pnpm-workspace.yaml is not valid YAML: ${(e as Error).message.split("\n")[0]}`, {
        hint: "fix it, then run hb init again",
      });
    }
    const yaml = record(parsed);
    return strings(yaml.packages);
  }
  const ws = rootJson.workspaces;
  return Array.isArray(ws) ? strings(ws) : strings(record(ws).packages);
}

function packageDirs(root: string, patterns: string[]): string[] {
  const include = patterns.filter((p) => !p.startsWith("!")).map((p) => posix.join(p.replace(/\/$/, ""), "package.json"));
  const ignore = ["**/node_modules/**", ...patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1))];
  const found = parsers.fg.sync(include, { cwd: root, ignore, onlyFiles: true, dot: false }).map((f) => posix.dirname(f));
  return [...new Set(found)].filter((d) => d !== ".").sort();
}

/** Reads the workspace at `root` for `hb init`: packages, their manifests and files, the tools installed. */
export async function scanWorkspace(root: string): Promise<WorkspaceScan> {
  parsers ??= {
    fg: (await import("fast-glob")).default,
    parseJsonc: (await import("jsonc-parser")).parse,
    parseYaml: await import("yaml").then((m) => m.parse ?? (m as unknown as { default: typeof m }).default.parse),
  };
  if (!existsSync(join(root, "package.json"))) {
    throw new HbError("BAD_WORKSPACE", `no package.json in ${root}`, {
      hint: "run hb init at the root of a JavaScript or TypeScript workspace (where its package.json is)",
    });
  }
  const rootJson = readJson(root, "package.json");
  const notes: string[] = [];
  let lockfile: string | undefined = LOCKFILE_NAMES.find((f) => existsSync(join(root, f)));
  if (lockfile === "yarn.lock" && /^# yarn lockfile v1/m.test(readFileSync(join(root, lockfile), "utf8"))) {
    notes.push(
      "yarn.lock is yarn 1's, which hb cannot lay out (it does not say which package needs what): rules resolve npm packages from the installed node_modules (//tools:node_modules)",
    );
    lockfile = undefined;
  }
  const packageManager =
    existsSync(join(root, "pnpm-workspace.yaml")) || lockfile === "pnpm-lock.yaml"
      ? "pnpm"
      : existsSync(join(root, "yarn.lock"))
        ? "yarn"
        : "npm";
  const dirs = packageDirs(root, workspacePatterns(root, rootJson));
  const manifests = new Map<string, Record<string, unknown>>(dirs.map((d) => [d, readJson(root, `${d}/package.json`)]));
  // a single-package repository is its own only package; a workspace root is not a package
  if (dirs.length === 0) manifests.set("", rootJson);
  const names = new Map<string, string>();
  for (const [dir, json] of manifests) if (typeof json.name === "string") names.set(json.name, dir);
  const testRunnerOf = runnerDetector(root, rootJson);
  const nested = nestedLockEntries(root, lockfile);
  const packages = [...manifests]
    .map(([dir, json]) => scanPackage(root, dir, json, names, testRunnerOf, rootJson))
    .map((p) => ({ ...p, ownNpmEntries: p.dir !== "" && (lockfile === "pnpm-lock.yaml" || nested.has(p.dir)) }));
  const rootTsconfigs = parsers.fg.sync(["tsconfig*.json"], { cwd: root, onlyFiles: true }).sort();
  const lockText = lockfile === undefined ? "" : readFileSync(join(root, lockfile), "utf8");
  const hbFromFile = hbInstalledFromFile(lockText);
  const locked = { typescript: pins(lockText, "typescript"), typesNode: pins(lockText, "@types/node") };
  const rootJestFiles = parsers.fg.sync(["jest.*.{js,cjs,mjs,ts,cts,mts,json}"], { cwd: root, onlyFiles: true }).sort();
  return { packageManager, lockfile, packages, tools: scanTools(root), rootTsconfigs, rootJestFiles, hbFromFile, locked, notes };
}

/** Whether a lockfile's text pins package `name`: package-lock's "node_modules/x", pnpm's `x@1.2.3:`, yarn's "x@npm:...". */
function pins(lock: string, name: string): boolean {
  const n = name.replace(/[/.]/g, "\\$&");
  return new RegExp(`"node_modules/${n}"|^\\s*['"]?/?${n}@`, "m").test(lock);
}

/** Whether the lockfile installs hb's own package from a file: or link: source (npm run pack's tarball). */
function hbInstalledFromFile(lock: string): boolean {
  return lock.split("\n").some((l) => l.includes(HB_PACKAGE) && /(file|link):/.test(l));
}

/** The packages npm's lockfile has entries of their own for (packages/x/node_modules/...). */
function nestedLockEntries(root: string, lockfile: string | undefined): Set<string> {
  if (lockfile !== "package-lock.json") return new Set();
  const keys = Object.keys(record(readJson(root, lockfile).packages));
  return new Set(
    keys.flatMap((k) => (k.includes("/node_modules/") && !k.startsWith("node_modules/") ? [k.slice(0, k.indexOf("/node_modules/"))] : [])),
  );
}

function runnerDetector(root: string, rootJson: Record<string, unknown>) {
  const depsOf = (json: Record<string, unknown>) =>
    new Set(["dependencies", "devDependencies"].flatMap((k) => Object.keys(record(json[k]))));
  const rootDeps = depsOf(rootJson);
  return (dir: string, json: Record<string, unknown>, tests: string[], readTest: (f: string) => string): ScannedPackage["testRunner"] => {
    if (tests.length === 0) return undefined;
    const deps = new Set([...rootDeps, ...depsOf(json)]);
    const script = `${String(record(json.scripts).test ?? "")} ${String(record(rootJson.scripts).test ?? "")}`;
    const texts = tests.slice(0, 20).map(readTest).join("\n");
    if (
      /from ["']vitest["']/.test(texts) ||
      (deps.has("vitest") && /vitest/.test(script)) ||
      existsSync(join(root, dir, "vitest.config.ts"))
    )
      return "vitest";
    if (deps.has("jest") || /\bjest\b/.test(script)) return "jest";
    if (/from ["']node:test["']/.test(texts) || /node --test/.test(script)) return "node";
    return deps.has("vitest") ? "vitest" : "node";
  };
}

/**
 * What init needs of a tsconfig and those it extends: outDir (package-relative), module (lower
 * case), whether it emits declarations, and the files it extends outside the package.
 */
function readTsconfig(
  root: string,
  dir: string,
  start: string,
): {
  outDir: string | undefined;
  module: string | undefined;
  declarations: boolean | undefined;
  extendsOutside: string[];
  /** package-relative */
  extendsInside: string[];
} {
  let outDir: string | undefined;
  let module: string | undefined;
  let declarations: boolean | undefined;
  const extendsOutside: string[] = [];
  const extendsInside: string[] = [];
  let file = start;
  for (let depth = 0; depth < 8; depth++) {
    const ts = readJsonc(root, file);
    const options = record(ts.compilerOptions);
    declarations ??= typeof options.declaration === "boolean" ? options.declaration : options.composite === true ? true : undefined;
    const o = options.outDir;
    if (outDir === undefined && typeof o === "string")
      outDir = posix.normalize(posix.join(posix.dirname(file), o)).slice(dir === "" ? 0 : dir.length + 1);
    if (module === undefined && typeof options.module === "string") module = options.module.toLowerCase();
    const ext = ts.extends;
    if (typeof ext !== "string" || !ext.startsWith(".")) break;
    // "." and "../x" name a directory's tsconfig.json
    const target = posix.normalize(posix.join(posix.dirname(file), ext));
    file = ext.endsWith(".json")
      ? target
      : existsSync(join(root, target, "tsconfig.json"))
        ? posix.join(target, "tsconfig.json")
        : `${target}.json`;
    if (!existsSync(join(root, file))) break;
    if (dir === "" || !file.startsWith(`${dir}/`)) extendsOutside.push(file);
    else extendsInside.push(file.slice(dir.length + 1));
  }
  return { outDir, module, declarations, extendsOutside, extendsInside };
}

/** The source file a shipped path (`./dist/index.js`, `lib/cli.mjs`) was built from, if init finds it. */
function sourceOf(output: string, sources: string[], outDir: string | undefined): string | undefined {
  const clean = posix.normalize(output.replace(/^\.\//, ""));
  if (sources.includes(clean)) return clean;
  const stem = clean.replace(/\.d\.[cm]?ts$/, "").replace(/\.[cm]?jsx?$/, "");
  const dirs = [outDir, "dist", "lib", "build", "out"].filter((d): d is string => d !== undefined);
  // dist/x, and dist/esm/x or dist/cjs/x where one source is built in two formats, came from src/x
  const rests = dirs.flatMap((d) => {
    if (!stem.startsWith(`${d}/`)) return [];
    const rest = stem.slice(d.length + 1);
    const slash = rest.indexOf("/");
    return slash < 0 ? [rest] : [rest, rest.slice(slash + 1)];
  });
  const candidates = [stem, ...rests.flatMap((r) => [`src/${r}`, r])];
  for (const c of candidates) {
    const hit = CODE_EXTENSIONS.map((e) => `${c}.${e}`).find((f) => sources.includes(f));
    if (hit) return hit;
  }
  return undefined;
}

/** The module format a shipped file is in: by its extension, its directory (dist/cjs/), or the package's type. */
export function formatOf(output: string, json: { type?: unknown }): "esm" | "cjs" {
  if (/\.cjs$/.test(output) || /(^|\/)cjs\//.test(output)) return "cjs";
  if (/\.mjs$/.test(output) || /(^|\/)esm\//.test(output)) return "esm";
  return json.type === "module" ? "esm" : "cjs";
}

/** Whether package.json points at declarations: types, typings, or a types condition in exports. */
function shipsTypes(json: Record<string, unknown>): boolean {
  const has = (v: unknown): boolean =>
    typeof v === "object" &&
    v !== null &&
    Object.entries(v).some(([k, x]) => ((k === "types" || k === "typings") && typeof x === "string") || has(x));
  return typeof json.types === "string" || typeof json.typings === "string" || has(json.exports);
}

/** Every path package.json says the package ships as code, compiled or as its TypeScript sources: exports (all conditions), module, main. */
function shippedPaths(json: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) if (k !== "types" && k !== "typings") walk(x);
  };
  walk(json.exports);
  for (const k of ["module", "main"]) if (typeof json[k] === "string") out.push(json[k] as string);
  // TypeScript too: a workspace package often ships its sources ("main": "src/index.ts") for its dependents to compile
  return [...new Set(out.filter((p) => /\.[cm]?[jt]sx?$/.test(p) && !/\.d\.[cm]?ts$/.test(p) && !p.includes("*")))];
}

function scanPackage(
  root: string,
  dir: string,
  json: Record<string, unknown>,
  names: Map<string, string>,
  testRunnerOf: ReturnType<typeof runnerDetector>,
  rootJson: Record<string, unknown>,
): ScannedPackage {
  const abs = join(root, dir);
  const nested = [...names.values()]
    .filter((d) => d !== dir && (dir === "" || d.startsWith(`${dir}/`)))
    .map((d) => `${dir === "" ? d : d.slice(dir.length + 1)}/**`);
  const files = parsers.fg
    .sync(
      CODE_EXTENSIONS.map((e) => `**/*.${e}`),
      { cwd: abs, ignore: [...NOT_SOURCES, ...nested], onlyFiles: true, dot: false },
    )
    .filter(
      (f) =>
        !/(^|\/)(vitest|jest|vite|tsup|tsdown|rollup|webpack|babel|eslint|prettier)\.config\.[cm]?[jt]s$/.test(f) &&
        !/^[^/]*\.config\.[cm]?[jt]s$/.test(f),
    )
    .sort();
  const tests = files.filter((f) => TEST_FILE.test(f));
  const sources = files.filter((f) => !TEST_FILE.test(f) && !/(^|\/)(__fixtures__|fixtures|__mocks__|test-utils|scripts)\//.test(f));

  const hasTsconfig = existsSync(join(abs, "tsconfig.json"));
  let outDir: string | undefined;
  let emitsDeclarations: boolean | undefined;
  const tsconfigExtends: string[] = [];
  let mainModule: string | undefined;
  if (hasTsconfig) {
    const main = readTsconfig(root, dir, posix.join(dir, "tsconfig.json"));
    ({ outDir, declarations: emitsDeclarations, module: mainModule } = main);
    tsconfigExtends.push(...main.extendsOutside);
  }

  const entries: ScannedPackage["entries"] = [];
  const unmappedEntries: string[] = [];
  for (const output of shippedPaths(json)) {
    const source = sourceOf(output, sources, outDir);
    if (!source) unmappedEntries.push(output);
    else if (!entries.some((e) => e.source === source && formatOf(e.output, json) === formatOf(output, json)))
      entries.push({ output, source });
  }
  // another tsconfig of the package emitting elsewhere, where package.json ships too (tsconfig.cjs.json into dist/cjs)
  // (declarations too: a package of types alone ships dist/cjs/index.d.ts under a types condition)
  const shipped = everyShippedPath(json).map((p) => posix.normalize(p.replace(/^\.\//, "")));
  const otherProjects: ScannedPackage["otherProjects"] = [];
  if (hasTsconfig && outDir !== undefined) {
    for (const f of parsers.fg.sync(["tsconfig.*.json"], { cwd: abs, onlyFiles: true }).sort()) {
      const t = readTsconfig(root, dir, posix.join(dir, f));
      if (t.outDir === undefined || t.outDir === outDir || !shipped.some((p) => p.startsWith(`${t.outDir}/`))) continue;
      otherProjects.push({ tsconfig: f, outDir: t.outDir, module: t.module, extendsInside: t.extendsInside });
    }
  }
  const binField = json.bin;
  const binMap: Record<string, unknown> =
    typeof binField === "string" ? { [String(json.name ?? posix.basename(dir)).replace(/^@[^/]+\//, "")]: binField } : record(binField);
  const bins: ScannedPackage["bins"] = [];
  for (const [name, path] of Object.entries(binMap)) {
    const source = typeof path === "string" ? sourceOf(path, sources, outDir) : undefined;
    if (source) bins.push({ name, source });
    else if (typeof path === "string") unmappedEntries.push(path);
  }

  const depKinds = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];
  const allDeps = new Set(depKinds.flatMap((k) => Object.keys(record(json[k]))));
  const workspaceDeps = [...allDeps].filter((n) => names.has(n) && n !== json.name).sort();
  const runtimeDeps = [
    ...new Set(["dependencies", "peerDependencies", "optionalDependencies"].flatMap((k) => Object.keys(record(json[k])))),
  ].sort();
  const otherScripts = Object.keys(record(json.scripts))
    .filter((s) => !KNOWN_SCRIPTS.has(s) && !/^(pre|post)/.test(s))
    .sort();
  const generatedFiles = missingImports(abs, files);
  const testTexts = tests.map((f) => readFileSync(join(abs, f), "utf8"));
  return {
    dir,
    name: typeof json.name === "string" ? json.name : undefined,
    private: json.private === true,
    type: json.type === "module" ? "module" : "commonjs",
    sources,
    tests,
    testRunner: testRunnerOf(dir, json, tests, (f) => readFileSync(join(abs, f), "utf8")),
    entries,
    unmappedEntries,
    bins,
    workspaceDeps,
    runtimeDeps,
    hasTsconfig,
    outDir,
    module: mainModule,
    otherProjects,
    declarations: hasTsconfig && (emitsDeclarations === true || shipsTypes(json)),
    tsconfigExtends,
    otherScripts,
    ownNpmEntries: false,
    generatedFiles,
    generator: generatedFiles.length > 0 ? generatorOf(dir, json, rootJson) : undefined,
    npmignore: existsSync(join(abs, ".npmignore")),
    jestConfig: ["js", "cjs", "mjs", "ts", "cts", "mts", "json"].map((e) => `jest.config.${e}`).find((f) => existsSync(join(abs, f))),
    tsconfigFiles: parsers.fg
      .sync(["**/tsconfig*.json"], { cwd: abs, ignore: [...NOT_SOURCES, ...nested], onlyFiles: true, dot: false })
      .sort(),
    testData:
      tests.length === 0
        ? []
        : parsers.fg
            .sync(
              TEST_DATA_DIRS.map((d) => `**/${d}/**`),
              { cwd: abs, ignore: [...NOT_SOURCES, ...nested], onlyFiles: true, dot: false },
            )
            .filter((f) => !CODE_EXTENSIONS.some((e) => f.endsWith(`.${e}`)))
            .sort(),
    testImports: [...names.keys()]
      .filter((n) => {
        const quoted = new RegExp(`["']${n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(/[^"']*)?["']`);
        return testTexts.some((t) => quoted.test(t));
      })
      .sort(),
    subpathManifests: parsers.fg
      .sync(["*/**/package.json"], { cwd: abs, ignore: [...NOT_SOURCES, ...nested], onlyFiles: true, dot: false })
      .sort(),
    declarationSources: parsers.fg
      .sync(["**/*.d.ts", "**/*.d.mts", "**/*.d.cts"], {
        cwd: abs,
        ignore: [...NOT_SOURCES.filter((g) => !g.startsWith("**/*.d.")), ...nested],
        onlyFiles: true,
        dot: false,
      })
      .filter((f) => !TEST_FILE.test(f) && sources.some((s) => s.startsWith(f.slice(0, f.indexOf("/") + 1))))
      .sort(),
    shippedDirs: shippedDirsOf(json).filter((d) => !BUILT_DIRS.includes(d) && existsSync(join(abs, d))),
  };
}

const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'](\.{1,2}\/[^"'\n]+)["']/g;

/**
 * The files the package's code imports by a relative path that are not there (as the TypeScript
 * source the import means: `./version.js` is `version.ts`): what a script writes before the
 * build (a gitignored `src/generated/version.ts`), package-relative and sorted.
 */
function missingImports(abs: string, files: string[]): string[] {
  const missing = new Set<string>();
  for (const f of files) {
    if (!/\.[cm]?tsx?$/.test(f)) continue;
    const text = readFileSync(join(abs, f), "utf8");
    for (const m of text.matchAll(RELATIVE_IMPORT)) {
      const target = posix.normalize(posix.join(posix.dirname(f), m[1]!));
      if (target.startsWith("..")) continue;
      const stem = target.replace(/\.[cm]?jsx?$/, "");
      const ext = /\.mjs$/.test(target) ? ".mts" : /\.cjs$/.test(target) ? ".cts" : ".ts";
      const candidates = [
        target,
        `${stem}${ext}`,
        `${stem}.tsx`,
        `${stem}.ts`,
        `${stem}.d.ts`,
        `${stem}.js`,
        `${target}/index.ts`,
        `${target}/index.js`,
      ];
      if (candidates.some((c) => existsSync(join(abs, c)))) continue;
      missing.add(/\.[cm]?[jt]sx?$/.test(target) ? `${stem}${ext}` : `${target}.ts`);
    }
  }
  return [...missing].sort();
}

/** The `node <file>` script run before the package's build (its own `pre<build>`, else the root's), as npm runs it: from its package's directory. */
function generatorOf(dir: string, json: Record<string, unknown>, rootJson: Record<string, unknown>): ScannedPackage["generator"] {
  const candidates: [Record<string, unknown>, string][] = [[json, dir]];
  if (dir !== "") candidates.push([rootJson, ""]);
  for (const [manifest, at] of candidates) {
    const scripts = record(manifest.scripts);
    for (const name of ["precompile", "prebuild"]) {
      const m = /^node\s+(\S+\.[cm]?js)$/.exec(String(scripts[name] ?? "").trim());
      if (m) return { name, script: posix.normalize(posix.join(at, m[1]!)), cwd: at };
    }
  }
  return undefined;
}

/** directories a build writes: what a package ships from there is no file of the tree */
const BUILT_DIRS = ["dist", "build", "lib", "out"];

/** Every path package.json ships (exports in all conditions, main, module, types), declarations too. */
function everyShippedPath(json: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
  };
  walk(json.exports);
  for (const k of ["main", "module", "types", "typings"]) walk(json[k]);
  return out;
}

/** The top directories of every path package.json ships, declarations too. */
function shippedDirsOf(json: Record<string, unknown>): string[] {
  const dirs = everyShippedPath(json)
    .map((p) => posix.normalize(p.replace(/^\.\//, "")))
    .filter((p) => p.includes("/") && !p.startsWith(".."));
  return [...new Set(dirs.map((p) => p.slice(0, p.indexOf("/"))))].filter((d) => d !== "*").sort();
}

/** The tools installed in the workspace (or, for node, on PATH), as //tools will pin them. */
function scanTools(root: string): ScannedTools {
  const req = createRequire(join(root, "package.json"));
  const inWorkspace = (p: string) => {
    const r = relative(realpathSync(root), realpathSync(p)).split("\\").join("/");
    return r.startsWith("..") ? realpathSync(p) : r;
  };
  const resolveDir = (name: string, from = req) => {
    try {
      return dirname(from.resolve(`${name}/package.json`));
    } catch {
      return undefined;
    }
  };
  let esbuild: ScannedTools["esbuild"];
  const esbuildDir = resolveDir("esbuild");
  if (esbuildDir) {
    const platformDir = resolveDir(`@esbuild/${process.platform}-${process.arch}`, createRequire(join(esbuildDir, "package.json")));
    const binary = platformDir && join(platformDir, "bin/esbuild");
    if (binary && existsSync(binary)) esbuild = { path: inWorkspace(binary), sha256: sha256Hex(readFileSync(binary)) };
  }
  const nodeOnPath = (process.env.PATH ?? "")
    .split(":")
    .map((d) => join(d, "node"))
    .find((p) => existsSync(p) && statSync(p).isFile());
  const typescript = resolveDir("typescript");
  const typesNode = existsSync(join(root, "node_modules/@types/node/package.json")) ? "node_modules/@types/node" : undefined;
  return {
    esbuild,
    node: realpathSync(nodeOnPath ?? process.execPath),
    typescript: typescript && inWorkspace(typescript),
    typesNode,
    nodeModules: existsSync(join(root, "node_modules")),
  };
}
