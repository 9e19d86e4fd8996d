import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../base/digest";
import { HbError } from "../base/errors";
import { fingerprint, loadFingerprinter } from "../base/fingerprint";
import { isPackageUnder } from "../base/label";
import { type IgnoreRules, hasBuildFile, holdsBuildFile, ignoreRules, isIgnored } from "../loading/package-tree";
import { joinRel, parentRel } from "../base/label";
import { hostFs } from "../loading/source-fs";
import type { Database } from "../base/database";
import { isRacy } from "../base/racy";
import type { WorkspaceConfig } from "../workspace/config";
import type { ActionGraph } from "../base/graph";
import type { AnalysisInputs } from "../loading/records";

export interface CachedAnalysis {
  config: WorkspaceConfig;
  graph: ActionGraph;
}

/**
 * An analysis as stored: its config, then its graph, one line of JSON each, so that a build
 * that turns out a no-op parses the config and never the graph (most of the text).
 */
function serializeAnalysis(result: CachedAnalysis): string {
  return `${JSON.stringify(result.config)}\n${JSON.stringify(result.graph)}`;
}

/** Names one analysis result: equal results, equal fingerprints (what the no-op fast path keys on). */
export function analysisFingerprint(serialized: string): string {
  return sha256Hex(serialized);
}

declare const __HB_BUILD_ID__: string | undefined;
/** Rules live in hb's own code, so an analysis made by another build of hb is not reused. */
export const HB_BUILD_ID = typeof __HB_BUILD_ID__ === "string" ? __HB_BUILD_ID__ : "dev";

export function analysisRequestKey(patterns: readonly string[], cwdPkg: string): string {
  return JSON.stringify({ hb: HB_BUILD_ID, patterns, cwdPkg });
}

/**
 * The analysis stored for `request`, if everything it read is unchanged: files by stat (or
 * xxhash when the stat moved), directories by mtime and ctime (an entry added, then the mtime
 * put back, still moves the ctime), and where a directory changed, its globs
 * and package listings re-run and compared. Re-validated records are written back so the next
 * check is a stat again.
 */
export async function loadCachedAnalysis(
  db: Database,
  request: string,
  root: string,
): Promise<(CachedAnalysis & { fingerprint: string; inputs: AnalysisInputs }) | undefined> {
  const row = db.prepare("SELECT inputs, result FROM analysis_cache WHERE request = ?").get(request) as
    { inputs: string; result: string } | undefined;
  if (!row) return undefined;
  let inputs: AnalysisInputs;
  let config: WorkspaceConfig;
  const text = row.result;
  const configEnd = text.indexOf("\n");
  if (configEnd < 0) return undefined;
  try {
    inputs = JSON.parse(row.inputs) as AnalysisInputs;
    config = JSON.parse(text.slice(0, configEnd)) as WorkspaceConfig;
  } catch {
    return undefined;
  }
  const checkedAtMs = Date.now();
  let refreshed = false;
  const racy = (mtimeMs: number) => isRacy(mtimeMs, inputs.recordedAtMs);

  for (const f of inputs.files) {
    let st;
    try {
      st = statSync(join(root, f.path));
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    if (st.size === f.size && st.mtimeMs === f.mtimeMs && st.ctimeMs === f.ctimeMs && st.ino === f.ino && !racy(st.mtimeMs)) continue;
    await loadFingerprinter();
    if (fingerprint(readFileSync(join(root, f.path))) !== f.fingerprint) return undefined;
    Object.assign(f, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino });
    refreshed = true;
  }
  if (!allAbsent(root, inputs.absent)) return undefined;

  const dirty: string[] = [];
  for (const d of inputs.dirs) {
    let st;
    try {
      st = statSync(join(root, d.path));
    } catch {
      return undefined;
    }
    if (st.mtimeMs !== d.mtimeMs || st.ctimeMs !== d.ctimeMs || racy(st.mtimeMs)) {
      dirty.push(d.path);
      d.mtimeMs = st.mtimeMs;
      d.ctimeMs = st.ctimeMs;
    }
  }
  if (dirty.length > 0) {
    const rules = ignoreRules(config.ignore);
    // a directory made below a changed one was never recorded: what lands in it later would go unseen
    const recorded = new Set(inputs.dirs.map((d) => d.path));
    const walked: string[] = [];
    for (const l of inputs.listings) {
      if (!dirty.some((d) => isPackageUnder(d, l.base))) continue;
      if (l.kind === "packages") {
        // the changed directories below the base, not the whole tree: their entries are checked here
        if (!samePackages(root, l, dirty, inputs.dirs, rules)) return undefined;
        walked.push(l.base);
        continue;
      }
      // fast-glob loads only when a glob has something to re-run
      const now = (await import("../loading/glob")).globPackage(hostFs, root, l.base, l.include, l.exclude, rules);
      if (now.length !== l.result.length || now.some((x, i) => x !== l.result[i])) return undefined;
    }
    // elsewhere a new directory is a child of a changed one: its children are enough to look at
    const globBases = new Set(inputs.listings.flatMap((l) => (l.kind === "glob" ? [l.base] : [])));
    for (const d of dirty) {
      if (walked.some((base) => isPackageUnder(d, base))) continue;
      // a subpackage's root is recorded by its parent's walk as a boundary only, not walked into
      if (!globBases.has(d) && hasBuildFile(hostFs, root, d)) continue;
      let entries;
      try {
        entries = readdirSync(join(root, d), { withFileTypes: true });
      } catch {
        return undefined;
      }
      for (const e of entries) {
        const child = joinRel(d, e.name);
        if (e.isDirectory() && !isIgnored(child, rules) && !recorded.has(child)) return undefined;
      }
    }
    refreshed = true;
  }
  if (refreshed) {
    inputs.recordedAtMs = checkedAtMs;
    db.prepare("UPDATE analysis_cache SET inputs = ? WHERE request = ?").run(JSON.stringify(inputs), request);
  }
  let graph: ActionGraph | undefined;
  return {
    config,
    // parsed when first asked for: a no-op build never does
    get graph(): ActionGraph {
      if (graph) return graph;
      try {
        return (graph = JSON.parse(text.slice(configEnd + 1)) as ActionGraph);
      } catch {
        throw new HbError("INTERNAL", "the analysis cache holds an unreadable action graph", { hint: "run hb clean, then build again" });
      }
    },
    fingerprint: analysisFingerprint(text),
    inputs,
  };
}

/** Stores an analysis; returns its fingerprint. */
export function storeAnalysis(db: Database, request: string, inputs: AnalysisInputs, result: CachedAnalysis): string {
  const serialized = serializeAnalysis(result);
  db.prepare("INSERT OR REPLACE INTO analysis_cache (request, inputs, result) VALUES (?, ?, ?)").run(
    request,
    JSON.stringify(inputs),
    serialized,
  );
  return analysisFingerprint(serialized);
}

/**
 * Whether a package discovery below `listing.base` would list the same packages. Only a changed
 * directory can have gained or lost a BUILD.ts or a subdirectory: one whose times did not move
 * has the entries it had. So each changed directory is listed, not the whole tree below the base
 * (a walk of every directory of the workspace on each edit that moves one).
 */
function samePackages(
  root: string,
  listing: { base: string; result: readonly string[] },
  dirty: readonly string[],
  dirs: readonly { path: string }[],
  rules: IgnoreRules,
): boolean {
  const packages = new Set(listing.result);
  const children = new Map<string, Set<string>>();
  for (const d of dirs) {
    if (d.path === "") continue;
    const parent = parentRel(d.path);
    let set = children.get(parent);
    if (!set) children.set(parent, (set = new Set()));
    set.add(d.path);
  }
  for (const d of dirty) {
    if (!isPackageUnder(d, listing.base)) continue;
    let entries;
    try {
      entries = readdirSync(join(root, d), { withFileTypes: true });
    } catch {
      return false;
    }
    if (holdsBuildFile(entries) !== packages.has(d)) return false;
    const now = entries.filter((e) => e.isDirectory() && !isIgnored(joinRel(d, e.name), rules)).map((e) => joinRel(d, e.name));
    const before = children.get(d) ?? new Set<string>();
    if (now.length !== before.size || now.some((c) => !before.has(c))) return false;
  }
  return true;
}

/**
 * Whether none of `paths` exists. A path below a missing directory is missing without a look of
 * its own: most are an output's path and the BUILD.ts looked for below it, under a directory that
 * only hb-out/ has (4,400 paths, 200 such directories, on the 200-package bench repo).
 */
function allAbsent(root: string, paths: readonly string[]): boolean {
  const dirs = new Map<string, boolean>([["", true]]);
  const dirExists = (rel: string): boolean => {
    let known = dirs.get(rel);
    if (known === undefined) {
      known = dirExists(parentRel(rel)) && existsSync(join(root, rel));
      dirs.set(rel, known);
    }
    return known;
  };
  return paths.every((p) => !(dirExists(parentRel(p)) && existsSync(join(root, p))));
}
