import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { AnalysisInputs, DirRecord, FileRecord, ListingRecord } from "./records";
import { HbError } from "../base/errors";
import { fingerprint, loadFingerprinter } from "../base/fingerprint";
import { type LoadingConfig, validateConfig, vcsDirOf } from "../workspace/config";
import { BUILD_FILE, CONFIG_FILE } from "../workspace/workspace";
import { type BundleLimits, type BundledFile, bundleBuildFiles } from "./bundle";
import { type IgnoreRules, findPackages, ignoreRules, isIgnored, snapshotPackage } from "./package-tree";
import { joinRel } from "../base/label";
import { type EntryKind, type PathFacts, type TreeSnapshot, entryKind } from "./source-fs";
import type { PackageType } from "../api/rule";

/** A package as the host serves it: its BUILD.ts bundled, the names in its tree, and its package type. */
export type PackageLoad =
  { pkg: string; missing: true } | { pkg: string; bundle: BundledFile; snapshot: TreeSnapshot; packageType: PackageType };

/** A glob() call as evaluated, re-run by the analysis cache when a directory below `base` changed. */
export type GlobRecord = Extract<ListingRecord, { kind: "glob" }>;

/**
 * Everything BUILD.ts evaluation may ask of the workspace, and nothing more: bundled BUILD.ts
 * files (with the files they import) and hb.config.ts, and the names of files, never their
 * contents (of a package.json, only its `type`). The evaluator runs under bwrap and sees no
 * workspace file; the host answers from outside (docs/ARCHITECTURE.md, Trust boundaries).
 */
export interface LoadingAccess {
  bundleConfig(): Promise<BundledFile>;
  /** the `ignore` setting of the evaluated hb.config.ts: directories no listing goes into */
  setIgnore(ignore: string[]): Promise<void>;
  /** the `loading` limits of the evaluated hb.config.ts, which the host enforces from outside */
  setLimits(limits: Required<LoadingConfig>): Promise<void>;
  loadPackages(pkgs: string[]): Promise<PackageLoad[]>;
  /** packages at or below `base` (`//base/...`), and whether `base` exists at all */
  findPackages(base: string): Promise<{ packages: string[]; exists: boolean }>;
  /** what is at paths the package snapshots do not show */
  statPaths(paths: string[]): Promise<PathFacts[]>;
}

/** What the evaluation relied on besides what the host served: its globs and paths that must stay absent. */
export interface EvaluationFacts {
  globs: GlobRecord[];
  absent: string[];
}

/**
 * The trusted side of loading: reads the workspace for the evaluator, refusing what it may not
 * have, and records everything served so the analysis cache can re-check it cheaply.
 */
export class LoadingHost implements LoadingAccess {
  private rules: IgnoreRules = ignoreRules();
  private readonly files = new Map<string, FileRecord>();
  private readonly absent = new Set<string>();
  private readonly dirs = new Map<string, DirRecord>();
  /** the directories of each loaded package's tree: recorded for the packages that glob */
  private readonly packageDirs = new Map<string, DirRecord[]>();
  private readonly discoveries: ListingRecord[] = [];
  /** package.json files read, by workspace path: what their `type` says */
  private readonly packageTypes = new Map<string, PackageType>();
  private readonly recordedAtMs = Date.now();
  private readonly hidden: ReadonlySet<string>;
  /** the same, as the kernel resolves them */
  private readonly realHidden: ReadonlySet<string>;
  private readonly realRoot: string;

  constructor(
    private readonly root: string,
    /** absolute paths inside the workspace that no listing shows: the output base, hb-out, keys */
    hidden: readonly string[] = [],
  ) {
    this.hidden = new Set(hidden);
    this.realHidden = new Set(hidden.flatMap((h) => (existsSync(h) ? [realpathSync(h)] : [])));
    this.realRoot = realpathSync(root);
  }

  async bundleConfig(): Promise<BundledFile> {
    const b = (await bundleBuildFiles(this.root, [CONFIG_FILE], this.limits())).get(CONFIG_FILE)!;
    await this.record(b);
    return b;
  }

  private limits(): BundleLimits {
    return { rules: this.rules, hidden: this.realHidden };
  }

  async setIgnore(ignore: string[]): Promise<void> {
    if (!Array.isArray(ignore) || !ignore.every((x) => typeof x === "string"))
      throw new HbError("BAD_CONFIG", "ignore must be a list of directory names or paths");
    this.rules = ignoreRules(ignore);
  }

  /**
   * The limits the evaluated hb.config.ts asks for; `onLimits` (the process running the
   * evaluator) enforces them. Checked as a stranger's data: an evaluator that escaped its API
   * could send anything.
   */
  async setLimits(limits: Required<LoadingConfig>): Promise<void> {
    const valid = validateConfig({ loading: limits }, CONFIG_FILE).loading;
    if (!valid || valid.timeoutSeconds === undefined || valid.memoryMiB === undefined)
      throw new HbError("BAD_CONFIG", "loading limits need timeoutSeconds and memoryMiB");
    this.onLimits?.({ timeoutSeconds: valid.timeoutSeconds, memoryMiB: valid.memoryMiB });
  }

  /** Called with the limits hb.config.ts asks for, once it is evaluated. */
  onLimits: ((limits: Required<LoadingConfig>) => void) | undefined;
  /** the BUILD.ts files served last: what the evaluator was running when it stopped answering */
  lastServed: string[] = [];

  async loadPackages(pkgs: string[]): Promise<PackageLoad[]> {
    const out: PackageLoad[] = [];
    const entries: string[] = [];
    for (const pkg of pkgs) {
      this.checkPackagePath(pkg);
      const buildFile = joinRel(pkg, BUILD_FILE);
      if (existsSync(join(this.root, buildFile))) entries.push(buildFile);
      else if (lstatSync(join(this.root, buildFile), { throwIfNoEntry: false })?.isSymbolicLink()) {
        throw new HbError(
          "SYMLINK_ESCAPE",
          `${buildFile} is a symlink to ${readlinkSync(join(this.root, buildFile))}, outside the workspace or missing`,
          {
            hint: "a BUILD.ts may link only to a file inside the workspace",
          },
        );
      } else {
        this.absent.add(buildFile);
        out.push({ pkg, missing: true });
      }
    }
    if (entries.length === 0) return out;
    this.lastServed = entries;
    const bundles = await bundleBuildFiles(this.root, entries, this.limits());
    for (const buildFile of entries) {
      const bundle = bundles.get(buildFile);
      if (!bundle) throw new HbError("INTERNAL", `esbuild produced no bundle for ${buildFile}`);
      await this.record(bundle);
      const pkg = buildFile === BUILD_FILE ? "" : buildFile.slice(0, -BUILD_FILE.length - 1);
      const { snapshot, dirs } = snapshotPackage(this.root, pkg, this.rules, this.hidden);
      this.packageDirs.set(pkg, dirs);
      out.push({ pkg, bundle, snapshot, packageType: this.packageType(pkg) });
    }
    return out;
  }

  async findPackages(base: string): Promise<{ packages: string[]; exists: boolean }> {
    this.checkPackagePath(base);
    // a symlinked directory is not walked into: //link/... must not list the host's tree
    const real = existsSync(join(this.root, base)) ? realpathSync(join(this.root, base)) : undefined;
    if (real !== undefined && real !== this.realRoot && !real.startsWith(this.realRoot + sep)) {
      throw new HbError("SYMLINK_ESCAPE", `'${base}' is a symlink to ${real}, outside the workspace: no packages are looked for there`);
    }
    const found = findPackages(this.root, base, this.rules);
    this.discoveries.push({ kind: "packages", base, result: found.packages });
    for (const d of found.dirs) this.dirs.set(d.path, d);
    return {
      packages: found.packages,
      exists: found.packages.length > 0 || statSync(join(this.root, base), { throwIfNoEntry: false }) !== undefined,
    };
  }

  /**
   * What is at each of `paths` (source files labels name that the package snapshots do not show:
   * below a symlinked or ignored directory, in a subpackage), and at its directory: kinds and real
   * paths, never contents. Paths into version-control metadata are not answered.
   */
  async statPaths(paths: string[]): Promise<PathFacts[]> {
    if (!Array.isArray(paths)) throw new HbError("INTERNAL", "statPaths needs a list of paths");
    const out: PathFacts[] = [];
    const seen = new Set<string>();
    const facts = (rel: string) => {
      if (seen.has(rel)) return;
      seen.add(rel);
      const abs = join(this.root, rel);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st || this.hidden.has(abs)) return;
      let to: EntryKind | "" = "";
      let real = "";
      try {
        to = entryKind(statSync(abs));
        real = realpathSync(abs);
      } catch {
        // dangling, or a loop
      }
      out.push([rel, entryKind(st), to, real]);
    };
    for (const p of paths) {
      if (
        typeof p !== "string" ||
        p === "" ||
        !p.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\0")) ||
        vcsDirOf(p)
      )
        continue;
      facts(p);
      if (p.includes("/")) facts(p.slice(0, p.lastIndexOf("/")));
    }
    return out;
  }

  /** What the analysis depends on: everything served, and what the evaluation says it relied on. */
  inputs(facts: EvaluationFacts): AnalysisInputs {
    const dirs = new Map(this.dirs);
    for (const g of facts.globs) for (const d of this.packageDirs.get(g.base) ?? []) dirs.set(d.path, d);
    return {
      files: [...this.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
      absent: [...new Set([...this.absent, ...facts.absent])].sort(),
      dirs: [...dirs.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
      listings: [...this.discoveries, ...facts.globs],
      recordedAtMs: this.recordedAtMs,
    };
  }

  /** A package path as a label gives it; anything else (`..`, an ignored or VCS directory) is refused. */
  private checkPackagePath(pkg: string): void {
    const ok =
      typeof pkg === "string" && (pkg === "" || pkg.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\0")));
    if (!ok) throw new HbError("BAD_LABEL", `'${String(pkg)}' is not a package path`);
    const vcs = vcsDirOf(pkg);
    if (vcs) throw new HbError("NO_SUCH_PACKAGE", `no package '//${pkg}': ${vcs}/ is version-control metadata, never a package`);
    if (pkg !== "" && isIgnored(pkg, this.rules))
      throw new HbError("NO_SUCH_PACKAGE", `no package '//${pkg}': the directory is ignored (hb.config.ts ignore, or always ignored)`);
  }

  /**
   * How node reads the package's `.js` files: the `type` of the package.json nearest it, looked for
   * as node looks but only up to the workspace root, since an action's sandbox shows nothing above
   * it. Rules name outputs by it (an ESM bundle in a CommonJS package is `.mjs`), so the file read
   * is an analysis input, and so is each package.json looked for and missing on the way: one
   * appearing there would take its place.
   */
  private packageType(pkg: string): PackageType {
    for (let dir = pkg; ; dir = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "") {
      const rel = joinRel(dir, "package.json");
      const known = this.packageTypes.get(rel);
      if (known) return known;
      const abs = join(this.root, rel);
      if (lstatSync(abs, { throwIfNoEntry: false }) === undefined) {
        this.absent.add(rel);
        if (dir === "") return "commonjs";
        continue;
      }
      // a dangling symlink leads nowhere
      const real = existsSync(abs) ? realpathSync(abs) : undefined;
      const readable =
        real !== undefined &&
        real.startsWith(this.realRoot + sep) &&
        !vcsDirOf(relative(this.realRoot, real).split(sep).join("/")) &&
        ![...this.realHidden].some((h) => real === h || real.startsWith(h + sep));
      if (!readable) {
        throw new HbError("SYMLINK_ESCAPE", `${rel} leads to ${real ?? "nothing"}, which BUILD.ts evaluation may not read`, {
          hint: "a package.json is read for its type: make it a file of the workspace",
        });
      }
      if (!statSync(abs).isFile()) throw new HbError("BAD_WORKSPACE", `${rel} is not a file`);
      let json: unknown;
      try {
        json = JSON.parse(this.recordFile(rel).toString("utf8"));
      } catch (e) {
        throw new HbError("BAD_WORKSPACE", `${rel} cannot be read as JSON: ${(e as Error).message}`, {
          hint: "node and npm refuse it too",
        });
      }
      const type = typeof json === "object" && json !== null && (json as { type?: unknown }).type === "module" ? "module" : "commonjs";
      this.packageTypes.set(rel, type);
      return type;
    }
  }

  private async record(b: BundledFile): Promise<void> {
    await loadFingerprinter();
    for (const path of b.lookedUp.missing) this.absent.add(path);
    for (const path of [b.entry, ...b.inputs, ...b.lookedUp.found]) if (!this.files.has(path)) this.recordFile(path);
  }

  /**
   * Records a file whose content the analysis reads (the fingerprinter loaded), and gives that
   * content: its stat is taken first, so a change while it is read shows as a stale record.
   */
  private recordFile(path: string): Buffer {
    const abs = join(this.root, path);
    const st = statSync(abs);
    const content = readFileSync(abs);
    this.files.set(path, { path, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, fingerprint: fingerprint(content) });
    return content;
  }
}
