import { join } from "node:path";
import { HbError, type SourceLocation, didYouMean } from "../base/errors";
import { HB_PACKAGE, apiModuleNames } from "../base/package-name";
import { formatLabel, parseLabel, parseTargetPattern } from "../base/label";
import * as buildApi from "../api/index";
import { isLabelKind } from "../api/attrs";
import { type PackageBeingLoaded, type PackageType, type TargetDecl, setLoadingPackage } from "../api/rule";
import { DEFAULT_LOADING, type WorkspaceConfig, validateConfig } from "../workspace/config";
import { BUILD_FILE, CONFIG_FILE } from "../workspace/workspace";
import type { BundledFile } from "./bundle";
import { type Evaluator, createEvaluator } from "./evaluate";
import { globPackage, subpackagesReached } from "./glob";
import type { EvaluationFacts, GlobRecord, LoadingAccess } from "./loading-host";
import { type IgnoreRules, hasBuildFile, ignoreRules } from "./package-tree";
import { joinRel } from "../base/label";
import type { AnalysisRequest } from "./records";
import { SnapshotFs, type SourceFs } from "./source-fs";

/** A package as its BUILD.ts declared it, before analysis. */
export interface LoadedPackage {
  readonly pkg: string;
  readonly buildFile: string;
  readonly targets: ReadonlyMap<string, TargetDecl>;
  readonly outputs: ReadonlyMap<string, string>;
  /** how node reads its `.js` files: the type of the package.json nearest it */
  readonly packageType: PackageType;
}

/**
 * The modules BUILD.ts files may import, by name: hb's API as `hbuild` (or `@hb/core`), and each rules package,
 * which registers itself (its `register` module) in the evaluator.
 */
const apiModules = new Map<string, Record<string, unknown>>();

export function registerApiModule(id: string, exports: Record<string, unknown>): void {
  for (const name of apiModuleNames(id)) apiModules.set(name, { ...exports });
}
registerApiModule(HB_PACKAGE, buildApi);

/** The loaded workspace: its config, the requested targets' labels and every package they reach. */
export interface LoadedWorkspace extends EvaluationFacts {
  config: WorkspaceConfig;
  requested: string[];
  packages: ReadonlyMap<string, LoadedPackage>;
  /** the names in the loaded packages' trees, as the host served them */
  fs: SourceFs;
  /** maps an error thrown by user code to where in BUILD.ts sources it happened */
  locate(e: unknown): SourceLocation | undefined;
  /** a package a label names that does not exist -> the existing package closest in name */
  packageGuesses: ReadonlyMap<string, string>;
}

/**
 * Loading: evaluate hb.config.ts, expand the patterns, and load the packages the requested
 * targets reach through label attributes (served in waves by `access`: bundled, with the names
 * in their trees). BUILD.ts `console.log` lines go to `log`.
 */
export async function loadWorkspace(req: AnalysisRequest, access: LoadingAccess, log: string[]): Promise<LoadedWorkspace> {
  return new Loader(req.workspaceRoot, req.workspaceRealRoot, access, log).run(req);
}

class Loader {
  private readonly evaluator: Evaluator;
  private readonly packages = new Map<string, LoadedPackage>();
  /** packages looked for and found without a BUILD.ts */
  private readonly missing = new Set<string>();
  private readonly globs: GlobRecord[] = [];
  private readonly absent = new Set<string>();
  private allPackages: string[] | undefined;
  /** the names in the loaded packages' trees, as the host served them */
  private readonly fs: SnapshotFs;
  private rules: IgnoreRules = ignoreRules();

  constructor(
    private readonly root: string,
    realRoot: string,
    private readonly access: LoadingAccess,
    private readonly log: string[],
  ) {
    this.evaluator = createEvaluator(apiModules, (line) => this.log.push(line));
    this.fs = new SnapshotFs(root, realRoot);
  }

  async run(req: AnalysisRequest): Promise<LoadedWorkspace> {
    const config = await this.loadConfig();
    this.rules = ignoreRules(config.ignore);

    const requested: string[] = [];
    const seen = new Set<string>();
    const want = (label: string) => {
      if (!seen.has(label)) {
        seen.add(label);
        requested.push(label);
      }
    };
    for (const text of req.patterns) {
      const pattern = parseTargetPattern(text, req.cwdPkg);
      if (pattern.kind === "target") {
        await this.ensureLoaded([pattern.label.pkg]);
        const p = this.packages.get(pattern.label.pkg);
        if (!p) {
          const guess = await this.packageLike(pattern.label.pkg);
          throw new HbError(
            "NO_SUCH_PACKAGE",
            `no package '//${pattern.label.pkg}': ${joinRel(pattern.label.pkg, BUILD_FILE)} does not exist`,
            {
              hint: guess ? `did you mean //${guess}:${pattern.label.name}?` : "run `hb query //...` to list the targets",
            },
          );
        }
        const name = pattern.label.name;
        if (!p.targets.has(name)) {
          const owner = p.outputs.get(name);
          if (owner !== undefined) want(`//${p.pkg}:${owner}`);
          else if (this.fs.statSync(join(this.root, p.pkg, name), { throwIfNoEntry: false })?.isFile()) {
            // a source file label: nothing to analyze, as `bazel build //pkg:file` builds nothing
          } else {
            const guess = didYouMean(name, p.targets.keys());
            throw new HbError("NO_SUCH_TARGET", `no target '${formatLabel(pattern.label)}' in ${p.buildFile}`, {
              hint: guess ? `did you mean //${p.pkg}:${guess}?` : `targets of //${p.pkg}: ${[...p.targets.keys()].join(", ") || "(none)"}`,
            });
          }
        } else want(formatLabel(pattern.label));
        continue;
      }
      let pkgs: string[];
      if (pattern.kind === "recursive") {
        const found = await this.access.findPackages(pattern.pkg);
        pkgs = found.packages;
        if (!found.exists) {
          const guess = await this.packageLike(pattern.pkg);
          throw new HbError("NO_SUCH_PACKAGE", `no directory '${pattern.pkg}' in the workspace for pattern '${text}'`, {
            hint: guess ? `did you mean //${guess}/...?` : undefined,
          });
        }
      } else pkgs = [pattern.pkg];
      await this.ensureLoaded(pkgs);
      for (const pkg of pkgs) {
        const p = this.packages.get(pkg);
        if (!p) throw new HbError("NO_SUCH_PACKAGE", `no package '//${pkg}': ${joinRel(pkg, BUILD_FILE)} does not exist`);
        for (const [name, decl] of [...p.targets].sort(([a], [b]) => (a < b ? -1 : 1))) {
          // Bazel's `manual` tag: only built when named explicitly.
          if (!decl.tags.includes("manual")) want(`//${pkg}:${name}`);
        }
      }
    }

    await this.loadClosure(requested);
    await this.learnSourcePaths();
    // a label naming no package is an error the analysis reports: with the closest one's name,
    // for which the workspace's package list is walked, only then
    const packageGuesses = new Map<string, string>();
    for (const pkg of this.missing) {
      const guess = await this.packageLike(pkg);
      if (guess !== undefined) packageGuesses.set(pkg, guess);
    }
    return {
      packageGuesses,
      config,
      requested,
      packages: this.packages,
      fs: this.fs,
      globs: this.globs,
      absent: [...this.absent].sort(),
      locate: (e) => this.evaluator.locate(e),
    };
  }

  /** The workspace's package closest in name to `pkg` (a typo, or a package in another directory). */
  private async packageLike(pkg: string): Promise<string | undefined> {
    this.allPackages ??= (await this.access.findPackages("")).packages;
    return didYouMean(pkg, this.allPackages);
  }

  private async loadConfig(): Promise<WorkspaceConfig> {
    const exports = this.evaluator.run(await this.access.bundleConfig()) as { default?: unknown };
    const config = validateConfig(exports?.default, CONFIG_FILE);
    await this.access.setIgnore(config.ignore ?? []);
    const limits = { ...DEFAULT_LOADING, ...config.loading };
    this.evaluator.setTimeLimit(limits.timeoutSeconds);
    await this.access.setLimits(limits);
    return config;
  }

  /** Loads the packages of every target the requested ones reach through label attributes. */
  private async loadClosure(requested: readonly string[]): Promise<void> {
    const visited = new Set<string>();
    let frontier = [...requested];
    while (frontier.length > 0) {
      await this.ensureLoaded(frontier.map((l) => parseLabel(l).pkg));
      const next: string[] = [];
      for (const label of frontier) {
        if (visited.has(label)) continue;
        visited.add(label);
        const { pkg, name } = parseLabel(label);
        const p = this.packages.get(pkg);
        if (!p) continue; // the analysis reports the missing package with the referrer's location
        const decl = p.targets.get(name) ?? p.targets.get(p.outputs.get(name) ?? "");
        if (!decl) continue;
        for (const text of labelsOf(decl)) {
          try {
            next.push(formatLabel(parseLabel(text, pkg)));
          } catch {
            // malformed: the analysis reports it with the referrer's location
          }
        }
      }
      frontier = next.filter((l) => !visited.has(l));
    }
  }

  /**
   * Source files that labels name where the package snapshots do not reach (below a symlinked or
   * ignored directory, in a subpackage not loaded): their facts, from the host, in one request.
   */
  private async learnSourcePaths(): Promise<void> {
    const unknown = new Set<string>();
    for (const p of this.packages.values()) {
      for (const decl of p.targets.values()) {
        for (const text of labelsOf(decl)) {
          let label;
          try {
            label = parseLabel(text, p.pkg);
          } catch {
            continue;
          }
          const q = this.packages.get(label.pkg);
          if (!q || q.targets.has(label.name) || q.outputs.has(label.name)) continue;
          const rel = joinRel(label.pkg, label.name);
          if (!this.fs.knows(rel)) unknown.add(rel);
        }
      }
    }
    if (unknown.size > 0) this.fs.addFacts(await this.access.statPaths([...unknown].sort()));
  }

  private async ensureLoaded(pkgs: readonly string[]): Promise<void> {
    const todo = [...new Set(pkgs)].filter((p) => !this.packages.has(p) && !this.missing.has(p)).sort();
    if (todo.length === 0) return;
    for (const load of await this.access.loadPackages(todo)) {
      if ("missing" in load) {
        this.missing.add(load.pkg);
        continue;
      }
      this.fs.add(load.snapshot);
      this.packages.set(load.pkg, this.evaluate(load.pkg, load.bundle, load.packageType));
    }
  }

  private evaluate(pkg: string, b: BundledFile, packageType: PackageType): LoadedPackage {
    const targets = new Map<string, TargetDecl>();
    const outputs = new Map<string, string>();
    // a subpackage's directory is not a source of this package (nor what is in it): analysis
    // says that an output lies in a subpackage
    const inSubpackage = (path: string) => {
      for (let i = path.indexOf("/"); ; i = path.indexOf("/", i + 1)) {
        if (hasBuildFile(this.fs, this.root, joinRel(pkg, i < 0 ? path : path.slice(0, i)))) return true;
        if (i < 0) return false;
      }
    };
    const loading: PackageBeingLoaded = {
      pkg,
      buildFile: b.entry,
      targets,
      outputs,
      glob: (include, exclude) => {
        const result = globPackage(this.fs, this.root, pkg, include, exclude, this.rules);
        this.globs.push({ kind: "glob", base: pkg, include: [...include], exclude: [...exclude], result });
        return result;
      },
      subpackagesReached: (include) => subpackagesReached(this.fs, this.root, pkg, include, this.rules),
      isSource: (path) => this.fs.existsSync(join(this.root, joinRel(pkg, path))) && !inSubpackage(path),
      callSite: () => this.evaluator.callSite(b.entry),
    };
    setLoadingPackage(loading);
    try {
      this.evaluator.run(b);
    } finally {
      setLoadingPackage(undefined);
    }
    // a source file appearing where an output is declared makes the analysis stale (refused then)
    for (const o of outputs.keys()) if (!inSubpackage(o)) this.absent.add(joinRel(pkg, o));
    return { pkg, buildFile: b.entry, targets, outputs, packageType };
  }
}

function labelsOf(decl: TargetDecl): string[] {
  const out: string[] = [];
  for (const [key, spec] of Object.entries(decl.rule.attrs)) {
    if (!isLabelKind(spec.kind)) continue;
    const v = decl.attrs[key];
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) out.push(...(v as string[]));
  }
  return out;
}
