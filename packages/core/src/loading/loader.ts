import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { HbError, didYouMean } from "../errors";
import { Analysis, type LoadedPackage } from "../analysis/analyzer";
import type { AnalysisInputs, AnalysisRequest, AnalysisResponse, DirRecord, FileRecord, ListingRecord } from "../analysis/graph";
import * as buildApi from "../build-api/index";
import { isLabelKind } from "../build-api/attrs";
import { type PackageBeingLoaded, type TargetDecl, setLoadingPackage } from "../build-api/loading-context";
import { fingerprint, loadFingerprinter } from "../hash/fingerprint";
import { formatLabel, parseLabel, parseTargetPattern } from "../label/label";
import { type WorkspaceConfig, validateConfig } from "../workspace/config";
import { BUILD_FILE, CONFIG_FILE } from "../workspace/workspace";
import { type BundledFile, bundleBuildFiles } from "./bundle";
import { type ApiModules, type Evaluator, createEvaluator } from "./evaluate";
import { globPackage } from "./glob";
import { type IgnoreRules, findPackages, hasBuildFile, ignoreRules, joinRel, walkDirs } from "./package-tree";

/** The API modules BUILD.ts files import; rules-node registers its own at start-up. */
const apiModules: ApiModules = { "@hb/core": { ...buildApi }, "@hb/rules-node": {} };

export function registerApiModule(id: keyof ApiModules, exports: Record<string, unknown>): void {
  apiModules[id] = { ...exports };
}

/**
 * Loading and analysis, as one pass: evaluate hb.config.ts, expand the patterns, load the
 * packages the requested targets reach (bundled in waves, one esbuild call per wave), analyze,
 * and record everything the result depends on so that the parent can re-check it cheaply.
 */
export async function loadAndAnalyze(req: AnalysisRequest): Promise<AnalysisResponse> {
  const log: string[] = [];
  try {
    await loadFingerprinter();
    return await new Loader(req.workspaceRoot, log).run(req);
  } catch (e) {
    if (e instanceof HbError) return { ok: false, error: e.toData(), log };
    const err = e as Error;
    return { ok: false, error: { code: "INTERNAL", message: `${err?.stack ?? err}` }, log };
  }
}

class Loader {
  private readonly evaluator: Evaluator;
  private readonly packages = new Map<string, LoadedPackage>();
  /** packages looked for and found without a BUILD.ts */
  private readonly missing = new Set<string>();
  private readonly files = new Map<string, FileRecord>();
  private readonly dirs = new Map<string, DirRecord>();
  private readonly listings: ListingRecord[] = [];
  private readonly absent = new Set<string>();
  private readonly recordedAtMs = Date.now();
  private rules: IgnoreRules = ignoreRules();

  constructor(
    private readonly root: string,
    private readonly log: string[],
  ) {
    this.evaluator = createEvaluator(apiModules, (line) => this.log.push(line));
  }

  async run(req: AnalysisRequest): Promise<AnalysisResponse> {
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
          throw new HbError("NO_SUCH_PACKAGE", `no package '//${pattern.label.pkg}': ${joinRel(pattern.label.pkg, BUILD_FILE)} does not exist`, {
            hint: "run `hb query //...` to list the targets",
          });
        }
        const name = pattern.label.name;
        if (!p.targets.has(name)) {
          const owner = p.outputs.get(name);
          if (owner !== undefined) want(`//${p.pkg}:${owner}`);
          else if (isSourceFile(join(this.root, p.pkg, name))) {
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
        const found = findPackages(this.root, pattern.pkg, this.rules);
        this.listings.push({ kind: "packages", base: pattern.pkg, result: found.packages });
        for (const d of found.dirs) this.dirs.set(d.path, d);
        pkgs = found.packages;
        if (pkgs.length === 0 && !existsSync(join(this.root, pattern.pkg))) {
          throw new HbError("NO_SUCH_PACKAGE", `no directory '${pattern.pkg}' in the workspace for pattern '${text}'`);
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
    const analysis = new Analysis(this.root, this.packages, (e) => this.evaluator.locate(e), this.absent);
    const graph = analysis.run(requested);
    const inputs: AnalysisInputs = {
      files: [...this.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
      absent: [...this.absent].sort(),
      dirs: [...this.dirs.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
      listings: this.listings,
      recordedAtMs: this.recordedAtMs,
    };
    return { ok: true, config, graph, inputs, log: this.log };
  }

  private async loadConfig(): Promise<WorkspaceConfig> {
    const bundles = await bundleBuildFiles(this.root, [CONFIG_FILE]);
    const b = bundles.get(CONFIG_FILE)!;
    this.recordInputs(b);
    const exports = this.evaluator.run(b) as { default?: unknown };
    return validateConfig(exports?.default, CONFIG_FILE);
  }

  private recordInputs(b: BundledFile): void {
    for (const path of b.lookedUp.missing) this.absent.add(path);
    for (const path of [b.entry, ...b.inputs, ...b.lookedUp.found]) {
      if (this.files.has(path)) continue;
      const abs = join(this.root, path);
      const st = statSync(abs);
      this.files.set(path, { path, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, fingerprint: fingerprint(readFileSync(abs)) });
    }
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

  private async ensureLoaded(pkgs: readonly string[]): Promise<void> {
    const todo = [...new Set(pkgs)].filter((p) => !this.packages.has(p) && !this.missing.has(p)).sort();
    const entries: string[] = [];
    for (const pkg of todo) {
      const buildFile = joinRel(pkg, BUILD_FILE);
      if (existsSync(join(this.root, buildFile))) entries.push(buildFile);
      else if (lstatSync(join(this.root, buildFile), { throwIfNoEntry: false })?.isSymbolicLink()) {
        // the sandboxed analyzer sees the workspace alone: a symlink out of it leads nowhere
        throw new HbError("SYMLINK_ESCAPE", `${buildFile} is a symlink to ${readlinkSync(join(this.root, buildFile))}, outside the workspace or missing`, {
          hint: "a BUILD.ts may link only to a file inside the workspace",
        });
      } else {
        this.missing.add(pkg);
        this.absent.add(buildFile);
      }
    }
    if (entries.length === 0) return;
    const bundles = await bundleBuildFiles(this.root, entries);
    for (const buildFile of entries) {
      const b = bundles.get(buildFile);
      if (!b) throw new HbError("INTERNAL", `esbuild produced no bundle for ${buildFile}`);
      this.recordInputs(b);
      const pkg = buildFile === BUILD_FILE ? "" : buildFile.slice(0, -BUILD_FILE.length - 1);
      this.packages.set(pkg, this.evaluate(pkg, b));
    }
  }

  private evaluate(pkg: string, b: BundledFile): LoadedPackage {
    const targets = new Map<string, TargetDecl>();
    const outputs = new Map<string, string>();
    let walked = false;
    // a subpackage's directory is not a source of this package (nor what is in it): analysis
    // says that an output lies in a subpackage
    const inSubpackage = (path: string) => {
      for (let i = path.indexOf("/"); ; i = path.indexOf("/", i + 1)) {
        if (hasBuildFile(this.root, joinRel(pkg, i < 0 ? path : path.slice(0, i)))) return true;
        if (i < 0) return false;
      }
    };
    const loading: PackageBeingLoaded = {
      pkg,
      buildFile: b.entry,
      targets,
      outputs,
      glob: (include, exclude) => {
        const result = globPackage(this.root, pkg, include, exclude, this.rules);
        this.listings.push({ kind: "glob", base: pkg, include: [...include], exclude: [...exclude], result });
        if (!walked) {
          walked = true;
          for (const d of walkDirs(this.root, pkg, this.rules, { intoPackages: false }).dirs) this.dirs.set(d.path, d);
        }
        return result;
      },
      isSource: (path) => existsSync(join(this.root, joinRel(pkg, path))) && !inSubpackage(path),
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
    return { pkg, buildFile: b.entry, targets, outputs };
  }
}

function isSourceFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
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
