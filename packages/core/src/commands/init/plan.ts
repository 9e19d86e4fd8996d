import { posix } from "node:path";
import { HB_PACKAGE } from "../../base/package-name";
import { type ScannedPackage, TEST_DATA_DIRS, type WorkspaceScan, formatOf } from "./scan";

/** What `hb init` writes into one file: its imports and the lines of its generated block. */
export interface GeneratedBlock {
  /** module -> names imported from it */
  imports: Map<string, Set<string>>;
  lines: string[];
}

/** The files `hb init` owns a block of, by workspace-relative path, and notes for the user. */
export interface InitPlan {
  blocks: Map<string, GeneratedBlock>;
  /** hb.config.ts, written only when there is none */
  config: string;
  notes: string[];
}

const RULES = `${HB_PACKAGE}/rules-node`;

/** hb.config.ts as init first writes it. */
function configText(scan: WorkspaceScan): string {
  const settings = scan.hbFromFile
    ? // the lockfile cannot pin a tarball installed from disk; hb itself is no input of any action
      `{\n  // hb is installed from its tarball: no registry integrity to pin it by, and no action needs it\n  npm: { allowUnpinned: ["${HB_PACKAGE}"] },\n}`
    : "{}";
  return `import { defineConfig } from "${HB_PACKAGE}";\n\nexport default defineConfig(${settings});\n`;
}
/** where the toolchains live: rules-node's default labels name //tools */
export const TOOLS_DIR = "tools";

function blockFor(plan: InitPlan, dir: string): GeneratedBlock {
  const path = dir === "" ? "BUILD.ts" : `${dir}/BUILD.ts`;
  let b = plan.blocks.get(path);
  if (!b) plan.blocks.set(path, (b = { imports: new Map(), lines: [] }));
  return b;
}

function use(b: GeneratedBlock, module: string, ...names: string[]): void {
  const set = b.imports.get(module) ?? new Set<string>();
  for (const n of names) set.add(n);
  b.imports.set(module, set);
}

/** A TypeScript expression written as is in a rule call (a variable, a spread), not data. */
class Expr {
  constructor(readonly text: string) {}
}
const expr = (text: string) => new Expr(text);

/** A TypeScript literal of plain data, one line, spaced as prettier would. */
function lit(v: unknown): string {
  if (v instanceof Expr) return v.text;
  if (Array.isArray(v)) return `[${v.map(lit).join(", ")}]`;
  return JSON.stringify(v);
}

/** Targets are named like Bazel's: a package's main target is its directory's name (`//libs/util` is `//libs/util:util`). */
function mainName(p: ScannedPackage): string {
  const base = p.dir === "" ? (p.name ?? "main").replace(/^@[^/]+\//, "") : posix.basename(p.dir);
  return base.replace(/[^A-Za-z0-9_.-]/g, "_");
}

function labelOf(dir: string, name: string): string {
  return dir === "" ? `//:${name}` : posix.basename(dir) === name ? `//${dir}` : `//${dir}:${name}`;
}

/**
 * Globs for `files` (package-relative): per top directory, each extension (and test files by their
 * suffix or their __tests__ directory); top-level files by name. New files of the same kinds are
 * picked up without running hb init again.
 */
function globsFor(files: string[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const slash = f.indexOf("/");
    if (slash < 0) {
      out.add(f);
      continue;
    }
    const top = f.slice(0, slash);
    const suffix = /\.(test|spec)\.[cm]?[jt]sx?$/.exec(f)?.[0];
    if (suffix) out.add(`${top}/**/*${suffix}`);
    else if (/(^|\/)__tests__\//.test(f)) out.add(`${top}/**/__tests__/**/*${posix.extname(f)}`);
    // a test by its name alone (src/test.ts): by name, or the pattern would take every source
    else if (/(^|\/)(test|spec)\.[cm]?[jt]sx?$/.test(f)) out.add(f);
    else out.add(`${top}/**/*${posix.extname(f)}`);
  }
  return [...out].sort();
}

const TEST_EXCLUDES = ["**/*.test.*", "**/*.spec.*", "**/__tests__/**", "**/*.d.ts"];

/** What `hb init` generates for a scanned workspace: per package, the targets its manifest and files imply. */
export function planInit(scan: WorkspaceScan): InitPlan {
  const plan: InitPlan = {
    blocks: new Map(),
    config: configText(scan),
    notes: [...scan.notes],
  };
  const byName = new Map(scan.packages.filter((p) => p.name !== undefined).map((p) => [p.name!, p]));
  const compiled = new Set(scan.packages.filter((p) => p.entries.length > 0).map((p) => p.name));
  const dependedOn = new Set(
    scan.packages.flatMap((p) => [...p.workspaceDeps, ...(p.testRunner === "jest" ? p.testImports : [])].map((n) => byName.get(n)!.dir)),
  );
  // the packages these depend on, transitively, themselves included
  const workspaceClosure = (from: ScannedPackage[]): ScannedPackage[] => {
    const seen = new Map<string, ScannedPackage>();
    const visit = (d: ScannedPackage) => {
      if (seen.has(d.dir)) return;
      seen.set(d.dir, d);
      for (const n of d.workspaceDeps) visit(byName.get(n)!);
    };
    from.forEach(visit);
    return [...seen.values()].sort((a, b) => (a.dir < b.dir ? -1 : 1));
  };
  const fileIn = (dir: string, file: string) => (dir === "" ? `//:${file}` : `//${dir}:${file}`);
  // a package tsc builds is read by its dependents as its ts_project; another, as what it ships
  const isTsProject = (p: ScannedPackage) => p.declarations && p.sources.length > 0 && scan.tools.typescript !== undefined;
  // what code running here reads of a workspace package: all tsc emits, and its package.json files
  const runtimeOf = (d: ScannedPackage): string[] =>
    isTsProject(d)
      ? [labelOf(d.dir, "dist"), ...d.otherProjects.map((o) => labelOf(d.dir, projectName(o.tsconfig))), labelOf(d.dir, "package_files")]
      : d.shippedDirs.length > 0
        ? [labelOf(d.dir, "package_files")]
        : d.sources.length > 0
          ? [labelOf(d.dir, "srcs")]
          : [];
  const typesOf = (d: ScannedPackage): string[] =>
    isTsProject(d)
      ? // its package.json files too: an import of it by name resolves through them (types, exports) to the declarations
        [labelOf(d.dir, "dist"), labelOf(d.dir, "package_files")]
      : d.shippedDirs.length > 0
        ? [labelOf(d.dir, "package_files")]
        : [];
  const tools = scan.tools;

  // a tsconfig file a package extends, by label: a file of the package that holds it
  const dirs = scan.packages.map((p) => p.dir).sort((a, b) => b.length - a.length);
  const fileLabel = (file: string) => {
    const owner = dirs.find((d) => d !== "" && file.startsWith(`${d}/`)) ?? "";
    return `//${owner}:${owner === "" ? file : file.slice(owner.length + 1)}`;
  };
  if (scan.packages.some((p) => p.tsconfigExtends.some((f) => fileLabel(f).startsWith("//:")))) {
    blockFor(plan, "").lines.push("// the root package: the tsconfig files packages extend are its files");
  }

  // the npm packages the lockfile pins, laid out by hb (npm_deps) where sources resolve them
  if (scan.lockfile) {
    const root = blockFor(plan, "");
    use(root, RULES, "npm_deps");
    root.lines.push(
      `// the npm packages ${scan.lockfile} pins, fetched and checked by hb`,
      `npm_deps(${args_({ name: "node_modules", lockfile: scan.lockfile })});`,
    );
  }

  // without a lockfile for hb to read, tsc resolves types and modules from the installed
  // node_modules; with one, from its trees alone (they hold @types/node where the lockfile has it,
  // and the installed copy would lie where the merged view shows the root's tree)
  // (@types/node installed but not in the lockfile is the installed copy's, as without one)
  const installedTypes = (npm: string[]) =>
    npm.length > 0
      ? tools.typesNode && !scan.locked.typesNode
        ? ["//tools:types_node"]
        : []
      : [...(tools.typesNode ? ["//tools:types_node"] : []), ...(tools.nodeModules ? ["//tools:node_modules"] : [])];

  for (const p of scan.packages) {
    const b = blockFor(plan, p.dir);
    if (p.ownNpmEntries) {
      use(b, RULES, "npm_deps");
      b.lines.push(`npm_deps(${args_({ name: "node_modules", lockfile: `//:${scan.lockfile}` })});`);
    }
    const npmTrees = !scan.lockfile
      ? []
      : p.ownNpmEntries
        ? ["//:node_modules", ":node_modules"]
        : [p.dir === "" ? ":node_modules" : "//:node_modules"];
    if (npmTrees.length > 0 && (p.tests.length > 0 || p.bins.length > 0 || p.hasTsconfig)) {
      b.lines.push(`// what code run here (tests, programs, tsc) resolves npm imports from`, `const npm = ${lit(npmTrees)};`);
    }
    const npm = npmTrees.length > 0 ? ["...npm"] : [];
    // the typescript the lockfile pins, from the root's tree (where npm hoists it and a pnpm
    // workspace usually lists it), not the installed copy, which lies where that tree is shown;
    // a lockfile without it leaves //tools's
    const typescriptTree = npmTrees.length > 0 && scan.locked.typescript ? (p.dir === "" ? ":node_modules" : "//:node_modules") : undefined;
    const main = mainName(p);
    // tsc emits what the package ships, declarations too: a ts_project, its out_dir where
    // package.json points (beside the sources, in the sandbox's merged view)
    const tsProject = isTsProject(p);
    const labelOfPackage = (n: string) => labelOf(byName.get(n)!.dir, mainName(byName.get(n)!));
    const depLabels = p.workspaceDeps.filter((n) => compiled.has(n)).map(labelOfPackage);
    // a library's bundle leaves what npm installs with it (dependencies, workspace ones too) to
    // the installer, as npm publishes it; only what it does not ship with is bundled
    const bundled = p.workspaceDeps.filter((n) => compiled.has(n) && !p.runtimeDeps.includes(n)).map(labelOfPackage);
    // what a script writes before the build (a gitignored src/generated/version.ts): a genrule
    // running it, its outputs among the sources; it may read any package.json
    const generator = p.generator && p.generatedFiles.length > 0 ? p.generator : undefined;
    if (generator) {
      use(b, HB_PACKAGE, "genrule");
      const scriptLabel = fileLabel(generator.script);
      const manifests = [...new Set(["", ...scan.packages.map((q) => q.dir)])]
        .sort()
        .map((d) => (d === "" ? "//:package.json" : `//${d}:package.json`));
      const script = generator.cwd === "" ? generator.script : generator.script.slice(generator.cwd.length + 1);
      const cmd = `${generator.cwd === "" ? "" : `cd ${generator.cwd} && `}node ${script}`;
      b.lines.push(
        `// ${p.generatedFiles.join(", ")}: imported, not in the tree; the ${generator.name} script writes ${p.generatedFiles.length === 1 ? "it" : "them"}`,
        `genrule(${args_({ name: generator.name, srcs: [scriptLabel, ...manifests], outs: p.generatedFiles, cmd, tools: ["//tools:node"] })});`,
      );
    } else if (p.generatedFiles.length > 0) {
      b.lines.push(
        `// imported, not in the tree, and no script found that writes ${p.generatedFiles.length === 1 ? "it" : "them"}: ${p.generatedFiles.join(", ")}`,
      );
      plan.notes.push(
        `${p.dir || "."}: ${p.generatedFiles.join(", ")} imported but missing, and no precompile/prebuild script found to make it: add its target by hand below the generated block`,
      );
    }
    if (p.sources.length > 0) {
      use(b, HB_PACKAGE, "glob", "filegroup");
      // declarations among the sources (a generated operations.d.ts) are sources tsc reads
      const excludes = p.declarationSources.length > 0 ? TEST_EXCLUDES.filter((e) => e !== "**/*.d.ts") : TEST_EXCLUDES;
      const globbed = `glob(${lit(globsFor(p.sources))}, { exclude: ${lit(excludes)} })`;
      b.lines.push(`const srcs = ${generator ? `[...${globbed}, ${lit(`:${generator.name}`)}]` : globbed};`);
      b.lines.push(`filegroup({ name: "srcs", srcs });`);
    }
    // what dependents read of a package tsc does not build: the files package.json ships, declarations too
    // (of one it builds, its package.json files: what an import by name resolves through)
    if ((tsProject || p.shippedDirs.length > 0) && dependedOn.has(p.dir)) {
      use(b, HB_PACKAGE, "filegroup");
      const manifests = lit(["package.json", ...p.subpathManifests]).slice(1, -1);
      if (!tsProject) use(b, HB_PACKAGE, "glob");
      const files = tsProject ? `[${manifests}]` : `[...glob(${lit(p.shippedDirs.map((d) => `${d}/**`))}), ${manifests}]`;
      b.lines.push(`filegroup(${args_({ name: "package_files", srcs: expr(files) })});`);
    }
    if (depLabels.length > 0 && (p.entries.length > 0 || p.bins.length > 0)) {
      b.lines.push(`// the workspace packages package.json depends on`, `const deps = ${lit(depLabels)};`);
    }
    if (p.runtimeDeps.length > 0 && p.entries.length > 0 && !tsProject) {
      b.lines.push(`// left to npm, which installs them with this package`, `const external = ${lit(p.runtimeDeps)};`);
    }
    if (p.tests.length > 0) {
      use(b, HB_PACKAGE, "glob");
      b.lines.push(`const tests = glob(${lit(globsFor(p.tests))});`);
    }
    const tsDeps = p.tsconfigExtends.map(fileLabel);
    if (tsProject) {
      use(b, RULES, "ts_project");
      const refs = p.workspaceDeps.map((n) => byName.get(n)!).flatMap(typesOf);
      // its package.json: tsc reads its type (module: nodenext emits ESM where it says "module")
      const depParts = ["package.json", ...tsDeps, ...refs, ...installedTypes(npm)].map(lit).concat(npm);
      const deps = listExpr(depParts);
      const args: Record<string, unknown> = { name: "dist", srcs: expr("srcs"), out_dir: p.outDir ?? "dist" };
      if (deps) args.deps = deps;
      if (typescriptTree) args.typescript = typescriptTree;
      // a package shipping ESM and CJS: a ts_project per tsconfig, each with a package.json of its
      // format in its out_dir (node reads dist/cjs/*.js of a type: module package as ESM otherwise)
      const dual = p.otherProjects.length > 0;
      if (dual && typeOfModule(p.module)) args.out_package_type = typeOfModule(p.module);
      b.lines.push(`// JavaScript and declarations where package.json ships them, as tsc builds them`, `ts_project(${args_(args)});`);
      for (const o of p.otherProjects) {
        // the tsconfig it extends inside the package (tsconfig.cjs.json's ".") is a file tsc reads
        const inside = o.extendsInside.filter((f) => f !== o.tsconfig).map(lit);
        const moreDeps = listExpr([...inside, ...depParts]);
        const more: Record<string, unknown> = { ...args, name: projectName(o.tsconfig), tsconfig: o.tsconfig, out_dir: o.outDir };
        if (moreDeps) more.deps = moreDeps;
        delete more.out_package_type;
        if (typeOfModule(o.module)) more.out_package_type = typeOfModule(o.module);
        b.lines.push(`ts_project(${args_(more)});`);
      }
    }

    const used = new Set(["srcs", "test", "typecheck", "package"]);
    const unique = (name: string) => {
      let n = name;
      for (let i = 2; used.has(n); i++) n = `${name}_${i}`;
      used.add(n);
      return n;
    };
    // an entry's name: the package's for the first, else its file's (or its directory's, for an
    // index); the second format of one source gets the format as a suffix
    const entryNames: string[] = [];
    p.entries.forEach((e, i) => {
      const twin = p.entries.findIndex((o) => o.source === e.source);
      const stem = posix.basename(e.source).replace(/\.[^.]+$/, "");
      const base = i === 0 ? main : stem === "index" ? posix.basename(posix.dirname(e.source)) : stem;
      entryNames.push(unique(twin < i ? `${entryNames[twin]}_${formatOf(e.output, p)}` : base));
    });
    p.entries.forEach((e, i) => {
      // tsc builds what package.json ships: of its entries, only the main one is bundled, for the
      // workspace's own bundles that import the package by name
      if (tsProject && i > 0) return;
      use(b, RULES, "esbuild");
      const format = formatOf(e.output, p);
      const args: Record<string, unknown> = { name: entryNames[i], srcs: expr("srcs"), entry: e.source, format };
      if (i === 0 && p.name) args.module_name = p.name;
      if (bundled.length > 0) args.deps = bundled;
      // beside tsc's output, which ships, the bundle serves the workspace's own bundles: it
      // leaves every package import as tsc does (an optional one not installed stays a runtime matter)
      if (tsProject) args.packages = "external";
      else if (p.runtimeDeps.length > 0) args.external = expr("external");
      const shipped =
        e.output.replace(/^\.\//, "") === e.source
          ? "its TypeScript source, bundled for what imports it"
          : tsProject
            ? "bundled for the workspace's bundles that import the package (tsc builds what package.json ships)"
            : "as package.json ships it";
      b.lines.push(`// ${e.output}, ${shipped}`, `esbuild(${args_(args)});`);
    });

    for (const bin of p.bins) {
      use(b, RULES, "node_binary");
      const name = unique(entryNames.includes(bin.name) ? `${bin.name}_bin` : bin.name);
      const args: Record<string, unknown> = { name, entry: bin.source, srcs: expr("srcs") };
      const deps = listExpr([...(depLabels.length > 0 ? ["...deps"] : []), ...npm]);
      if (deps) args.deps = deps;
      b.lines.push(`node_binary(${args_(args)});`);
    }

    if (p.tests.length > 0) {
      if (p.testRunner === "jest") {
        // the project's own jest and config; what the tests import by name, as built (every
        // format tsc emits, and the package.json files an import resolves through), and the
        // tsconfig files ts-jest reads
        use(b, RULES, "node_test");
        const closure = workspaceClosure(p.testImports.map((n) => byName.get(n)!));
        const built = closure.flatMap(runtimeOf);
        const tsconfigs = [...new Set([p, ...closure])].flatMap((d) => d.tsconfigFiles.map((f) => fileIn(d.dir, f)));
        const root = [...scan.rootJestFiles, ...scan.rootTsconfigs, ...(p.dir === "" ? [] : ["package.json"])].map((f) => `//:${f}`);
        const data = [
          ...(p.sources.length > 0 ? ["...srcs"] : []),
          ...(p.testData.length > 0 ? [`...glob(${lit(testDataGlobs(p.testData))})`] : []),
          ...[...root, ...tsconfigs, ...(p.dir === "" ? [] : ["package.json"])].map(lit),
        ];
        const args: Record<string, unknown> = { name: "test", srcs: expr("tests"), runner: "jest", data: expr(`[${data.join(", ")}]`) };
        const deps = listExpr([...new Set(built)].map(lit).concat(npm));
        if (deps) args.deps = deps;
        if (p.jestConfig) args.jest_config = p.jestConfig;
        if (npmTrees.length > 0) args.jest = npmTrees[0];
        b.lines.push(`node_test(${args_(args)});`);
      } else {
        use(b, RULES, "node_test");
        const declared = depLabels.length > 0 && (p.entries.length > 0 || p.bins.length > 0);
        const own = p.entries.length > 0 ? [lit(`:${entryNames[0]}`)] : [];
        const testDeps = listExpr([...own, ...(declared ? ["...deps"] : depLabels.map(lit)), ...npm]);
        const args: Record<string, unknown> = { name: "test", srcs: expr("tests"), data: p.sources.length > 0 ? expr("srcs") : [] };
        if (testDeps) args.deps = testDeps;
        if (p.testRunner === "vitest") {
          args.runner = "vitest";
          // the vitest the lockfile pins (the package's own tree links it, with pnpm)
          if (npmTrees.length > 0) args.vitest = npmTrees[npmTrees.length - 1];
        }
        b.lines.push(`node_test(${args_(args)});`);
      }
    }

    if (p.hasTsconfig && tools.typescript && (p.sources.length > 0 || p.tests.length > 0)) {
      use(b, RULES, "ts_check");
      // a workspace dependency's types: its declarations where tsc emits them, else its sources
      const depTypes = p.workspaceDeps
        .map((n) => byName.get(n)!)
        .flatMap((d) => (isTsProject(d) || d.shippedDirs.length > 0 ? typesOf(d) : d.sources.length > 0 ? [labelOf(d.dir, "srcs")] : []));
      const deps = listExpr([...tsDeps, ...depTypes].map(lit).concat(npm));
      const srcsExpr = [p.sources.length > 0 ? "...srcs" : "", p.tests.length > 0 ? "...tests" : ""].filter(Boolean).join(", ");
      const args: Record<string, unknown> = { name: "typecheck", srcs: expr(`[${srcsExpr}]`), tsconfig: "tsconfig.json" };
      if (typescriptTree) args.typescript = typescriptTree;
      if (deps) args.deps = deps;
      const types = installedTypes(npm);
      if (types.length > 0) args.types = types;
      b.lines.push(`ts_check(${args_(args)});`);
    }

    if (!p.private && tsProject) {
      use(b, RULES, "npm_package");
      use(b, HB_PACKAGE, "glob");
      // as npm pack: the package's files (README, subpath package.json files, sources), less
      // what package.json's files leaves out, and what tsc builds; none a build left in the tree
      const built = [...new Set([p.outDir ?? "dist", ...p.otherProjects.map((o) => o.outDir)].map((d) => `${d.split("/")[0]}/**`))];
      const files = `glob(["**"], { exclude: ${lit(["BUILD.ts", "**/*.tsbuildinfo", ...built])} })`;
      const args: Record<string, unknown> = {
        name: "package",
        package_json: "package.json",
        srcs: expr(
          generator || p.npmignore
            ? `[${[`...${files}`, ...(generator ? [lit(`:${generator.name}`)] : []), ...(p.npmignore ? [lit(".npmignore")] : [])].join(", ")}]`
            : files,
        ),
        deps: [":dist", ...p.otherProjects.map((o) => `:${projectName(o.tsconfig)}`)],
      };
      // workspace: ranges are written as the versions these package.json files hold
      const packages = p.workspaceDeps.map((n) => `//${byName.get(n)!.dir}:package.json`);
      if (packages.length > 0) args.packages = packages;
      b.lines.push(`npm_package(${args_(args)});`);
    } else if (!p.private && p.entries.length > 0) {
      b.lines.push(
        "// not packed: its bundles are not at the paths package.json ships (a tsconfig with declaration: true makes it a ts_project, which is)",
      );
    }
    if (p.unmappedEntries.length > 0) {
      const list = p.unmappedEntries.join(", ");
      b.lines.push(`// package.json ships ${list}; no source file was found for ${p.unmappedEntries.length === 1 ? "it" : "them"}`);
      plan.notes.push(`${p.dir || "."}: no source found for ${list} (package.json); add its target by hand below the generated block`);
    }
    if (p.otherScripts.length > 0) {
      b.lines.push(`// package.json scripts hb init does not turn into targets: ${p.otherScripts.join(", ")}`);
    }
    if (b.lines.length === 0) b.lines.push("// no sources, tests or entry points found");
  }

  if (scan.packages.some((p) => p.dir === TOOLS_DIR)) {
    plan.notes.push(
      `a workspace package lives in ${TOOLS_DIR}/, where rules-node looks for its toolchains: they are added to its BUILD.ts block`,
    );
  }
  const t = blockFor(plan, TOOLS_DIR);
  use(t, HB_PACKAGE, "local_toolchain");
  t.lines.push("// The tools rules-node runs (//tools:...), pinned by digest: a changed tool changes every key that uses it.");
  if (tools.esbuild) {
    use(t, RULES, "esbuild_toolchain");
    t.lines.push(`esbuild_toolchain(${args_({ name: "esbuild", path: tools.esbuild.path, sha256: tools.esbuild.sha256 })});`);
  } else {
    plan.notes.push(
      "esbuild is not installed in this workspace: install it (npm i -D esbuild) and run hb init again to pin //tools:esbuild",
    );
  }
  t.lines.push(`local_toolchain(${args_({ name: "node", path: tools.node })});`);
  if (tools.typescript) t.lines.push(`local_toolchain(${args_({ name: "typescript", path: tools.typescript })});`);
  if (tools.typesNode) t.lines.push(`local_toolchain(${args_({ name: "types_node", path: tools.typesNode })});`);
  if (tools.nodeModules) t.lines.push(`local_toolchain(${args_({ name: "node_modules", path: "node_modules" })});`);
  return plan;
}

/** Globs for what tests read that is no code: per top directory, test directory and extension (a .snap under src's __tests__). */
function testDataGlobs(files: string[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const parts = f.split("/");
    const at = parts.findIndex((x) => TEST_DATA_DIRS.includes(x));
    const ext = posix.extname(f);
    const tail = ext ? `**/*${ext}` : `**/${parts[parts.length - 1]}`;
    out.add(at === 0 ? `${parts[0]}/${tail}` : `${parts[0]}/**/${parts[at]}/${tail}`);
  }
  return [...out].sort();
}

/** The ts_project of another tsconfig of a package: `dist_cjs` for tsconfig.cjs.json. */
function projectName(tsconfig: string): string {
  return `dist_${tsconfig
    .replace(/^tsconfig\./, "")
    .replace(/\.json$/, "")
    .replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The package.json type of what tsc emits for a module setting; none for node16/nodenext, which follow package.json. */
function typeOfModule(module: string | undefined): "module" | "commonjs" | undefined {
  if (module === undefined || /^node/.test(module)) return undefined;
  return module === "commonjs" || module === "umd" || module === "amd" ? "commonjs" : "module";
}

/** A list of TypeScript expressions (literals, `...spreads`) as one expression: a lone spread is its variable. */
function listExpr(parts: string[]): Expr | undefined {
  if (parts.length === 0) return undefined;
  return expr(parts.length === 1 && parts[0]!.startsWith("...") ? parts[0]!.slice(3) : `[${parts.join(", ")}]`);
}

/** A rule call's argument object, one line (`{ srcs }` where the value is the variable of that name). */
function args_(o: Record<string, unknown>): string {
  const parts = Object.entries(o).map(([k, v]) => (v instanceof Expr && v.text === k ? k : `${k}: ${lit(v)}`));
  return `{ ${parts.join(", ")} }`;
}
