import { type Stats, lstatSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ActionResult } from "../base/action-result";
import type { Database } from "../base/database";
import type { ActionGraph, ExecPath } from "../base/graph";
import { parentRel } from "../base/label";
import { isRacy } from "../base/racy";
import { actionsNeededBy, producers } from "../execution/action-closure";
import type { OutputFacts } from "../execution/materialize";
import type { StatCache } from "../keying/stat-cache";
import type { TargetReport, TestResult } from "./report";

/**
 * The no-op and incremental fast paths. After a clean build, hb records the stats of every file
 * the build read (sources, tools, toolchains, the host's package database), of every output it
 * materialized, and each action's key. If the same request finds every one of them unchanged, and
 * none racily so, the build would compute the same keys, hit the same cache entries and find the
 * same outputs: it is done, a stat per file, no key computed, no cache entry read. If some
 * changed, the actions reading none of them, downstream of none that does, are settled: their
 * results are taken from the action cache by the key they had, without keying them again.
 */
export interface NoopSnapshot {
  recordedAtMs: number;
  /** [absolute path, size, mtime, ctime, inode]; size ABSENT for a file looked for and not found */
  files: [string, number, number, number, number][];
  outputs: OutputFacts[];
  actions: number;
  targets: TargetReport[];
  tests?: TestResult[];
  /** [action id, key] of every action the build needed */
  keys?: [number, string][];
}

/** The size of a file the build looked for and did not find. */
export const ABSENT = -1;

/** What the last clean build's snapshot says of the files now. */
export interface SnapshotCheck {
  snapshot: NoopSnapshot;
  /** absolute paths of read files that are gone, changed, or racily clean */
  changedFiles: string[];
  /** exec paths of materialized outputs that are gone or changed */
  changedOutputs: ExecPath[];
  /** the read files that did not change, as they are */
  unchanged: [string, Stats][];
}

/** What must be equal for two builds to be the same request: the analysis request and what changes keys. */
export function noopKey(parts: Record<string, unknown>): string {
  return JSON.stringify(parts);
}

/**
 * The snapshot of the last clean build of this request, checked against the files as they are;
 * undefined when there is none. The stats it takes are handed to `stats`, so a build does not
 * take them again.
 */
export function checkNoopSnapshot(db: Database, key: string, root: string, stats: StatCache): SnapshotCheck | undefined {
  const row = db.prepare("SELECT data FROM noop_snapshot WHERE key = ?").get(key) as { data: string } | undefined;
  if (!row) return undefined;
  let snapshot: NoopSnapshot;
  try {
    snapshot = JSON.parse(row.data) as NoopSnapshot;
  } catch {
    return undefined;
  }
  const check: SnapshotCheck = { snapshot, changedFiles: [], changedOutputs: [], unchanged: [] };
  // anything that stops a stat (a file where a directory was, a symlink loop) is a change too:
  // the full build then says what is wrong
  try {
    for (const [path, size, mtimeMs, ctimeMs, ino] of snapshot.files) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st) stats.prime(path, st);
      else if (size === ABSENT) continue;
      if (
        !st ||
        st.size !== size ||
        st.mtimeMs !== mtimeMs ||
        st.ctimeMs !== ctimeMs ||
        st.ino !== ino ||
        isRacy(mtimeMs, snapshot.recordedAtMs)
      )
        check.changedFiles.push(path);
      else check.unchanged.push([path, st]);
    }
    for (const [path, ino, size, mtimeMs, ctimeMs] of snapshot.outputs) {
      const st = lstatSync(join(root, path), { throwIfNoEntry: false });
      if (!st || st.ino !== ino || st.size !== size || st.mtimeMs !== mtimeMs || st.ctimeMs !== ctimeMs) check.changedOutputs.push(path);
    }
  } catch {
    return undefined;
  }
  return check;
}

/** Whether nothing the snapshot recorded changed: the build is a no-op. */
export function unchanged(check: SnapshotCheck): boolean {
  return check.changedFiles.length === 0 && check.changedOutputs.length === 0;
}

/**
 * The actions of `graph` (the graph the snapshot was taken of) that stand as the last build left
 * them: they read no changed file, made no changed output, and read only outputs of actions that
 * stand too; each with its key and its result from the action cache. Undefined when a changed
 * file is read by no action (the host's package database, a file analysis read): then every
 * action is keyed again. `blobKept` says whether a result's blob is still in the CAS: an action
 * whose outputs an action to run will stage must still have them.
 */
export function settledActions(
  graph: ActionGraph,
  wanted: { targets: readonly string[]; extraOutputs?: readonly ExecPath[] },
  check: SnapshotCheck,
  root: string,
  resultOf: (key: string) => ActionResult | undefined,
  blobKept: (file: ActionResult["files"][number]) => boolean,
): Map<number, { key: string; result: ActionResult }> | undefined {
  const producer = producers(graph);
  const needed = actionsNeededBy(graph, wanted.targets, producer, wanted.extraOutputs);
  const readers = new Map<string, number[]>();
  const read = (path: string, id: number) => {
    const ids = readers.get(path);
    if (ids) ids.push(id);
    else readers.set(path, [id]);
  };
  const toolchainDirs: [string, number][] = [];
  for (const id of needed) {
    const a = graph.actions[id]!;
    for (const p of [...a.inputs, ...a.tools]) if (!producer.has(p)) read(join(root, p), id);
    for (const t of a.toolchains) {
      const abs = t.path.startsWith("/") ? t.path : join(root, t.path);
      read(abs, id);
      // a directory toolchain's files are read one by one
      toolchainDirs.push([`${abs}/`, id]);
    }
  }
  const stale = new Set<number>();
  for (const f of check.changedFiles) {
    const ids = readers.get(f) ?? toolchainDirs.filter(([dir]) => f.startsWith(dir)).map(([, id]) => id);
    if (ids.length === 0) return undefined;
    for (const id of ids) stale.add(id);
  }
  for (const p of check.changedOutputs) {
    let id = producer.get(p);
    // a file of an output directory
    for (let d = p; id === undefined && d.includes("/"); id = producer.get((d = parentRel(d))));
    if (id === undefined) return undefined;
    stale.add(id);
  }
  const keys = new Map(check.snapshot.keys ?? []);
  const settled = new Map<number, { key: string; result: ActionResult }>();
  // ascending ids are a build order: what an action reads is settled, or not, before it
  for (const id of needed) {
    const a = graph.actions[id]!;
    const key = keys.get(id);
    if (stale.has(id) || key === undefined) continue;
    if ([...a.inputs, ...a.tools].some((p) => producer.has(p) && !settled.has(producer.get(p)!))) continue;
    const result = resultOf(key);
    if (result) settled.set(id, { key, result });
  }
  // what an action to run stages from a settled one is read from the CAS
  const looked = new Set<number>();
  for (const id of needed) {
    if (settled.has(id)) continue;
    for (const p of [...graph.actions[id]!.inputs, ...graph.actions[id]!.tools]) {
      const from = producer.get(p);
      if (from === undefined || looked.has(from)) continue;
      looked.add(from);
      const s = settled.get(from);
      if (s && !s.result.files.every((f) => f.symlink !== undefined || blobKept(f))) settled.delete(from);
    }
  }
  return settled;
}

export function saveNoopSnapshot(db: Database, key: string, snap: NoopSnapshot | undefined): void {
  if (snap) db.prepare("INSERT OR REPLACE INTO noop_snapshot (key, data) VALUES (?, ?)").run(key, JSON.stringify(snap));
  else db.prepare("DELETE FROM noop_snapshot WHERE key = ?").run(key);
}
