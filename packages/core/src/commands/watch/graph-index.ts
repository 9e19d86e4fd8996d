import { statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { ActionGraph, ExecPath } from "../../base/graph";
import { OUT_DIR } from "../../base/graph";
import { actionsNeededBy, producers } from "../../execution/action-closure";
import type { AnalysisInputs } from "../../loading/records";
import { type IgnoreRules, ignoreRules, isIgnored } from "../../loading/package-tree";
import { vcsDirOf } from "../../workspace/config";
import type { Workspace } from "../../workspace/workspace";

/**
 * What a watch derives from an analysed graph: the actions the request needs, who reads each
 * source, who consumes each action's outputs, and so the directories to watch and the files
 * whose content matters.
 */
export class GraphIndex {
  /** ids of the actions the request needs, ascending */
  readonly needed: readonly number[];
  /** absolute path of a source (input or tool) -> the needed actions reading it */
  private readonly readers = new Map<string, number[]>();
  /** action id -> the needed actions reading one of its outputs */
  private readonly consumers = new Map<number, number[]>();
  /** what analysis read: BUILD.ts files, the files they import, hb.config.ts (absolute) */
  readonly analysisFiles: ReadonlySet<string>;
  /** every file whose content a build or an analysis depends on (absolute) */
  readonly tracked: ReadonlySet<string>;
  /** the directories holding them, and those whose listings analysis read (absolute, existing) */
  readonly dirs: ReadonlySet<string>;
  private readonly rules: IgnoreRules;

  constructor(
    readonly graph: ActionGraph,
    inputs: AnalysisInputs,
    private readonly workspace: Workspace,
    /** hb.config.ts's ignore */
    ignore: readonly string[] | undefined,
    wanted: { targets: readonly string[]; extraOutputs: readonly ExecPath[] },
  ) {
    const { root } = workspace;
    const producer = producers(graph);
    this.needed = actionsNeededBy(graph, wanted.targets, producer, wanted.extraOutputs);
    const needed = new Set(this.needed);
    for (const id of this.needed) {
      const a = graph.actions[id]!;
      for (const p of [...a.inputs, ...a.tools]) {
        const from = producer.get(p);
        if (from !== undefined) {
          if (needed.has(from)) push(this.consumers, from, id);
        } else if (!p.startsWith(OUT_DIR + "/")) push(this.readers, join(root, p), id);
      }
    }
    this.analysisFiles = new Set(inputs.files.map((f) => join(root, f.path)));
    this.tracked = new Set([...this.readers.keys(), ...this.analysisFiles]);
    this.rules = ignoreRules(ignore);
    const candidates = new Set([...[...this.tracked].map((f) => dirname(f)), ...inputs.dirs.map((d) => join(root, d.path))]);
    const dirs = new Set<string>();
    for (const d of candidates) if (!this.ignores(d) && statSync(d, { throwIfNoEntry: false })?.isDirectory()) dirs.add(d);
    this.dirs = dirs;
  }

  /** What no build reads, whatever happens to it: hb-out/, the output base, ignored directories, what is outside the workspace. */
  ignores(path: string): boolean {
    const { root, outputBase } = this.workspace;
    if (path === outputBase || path.startsWith(outputBase + sep)) return true;
    const rel = relative(root, path).split(sep).join("/");
    if (rel === "") return false;
    return rel.startsWith("..") || rel === OUT_DIR || rel.startsWith(OUT_DIR + "/") || isIgnored(rel, this.rules) || !!vcsDirOf(rel);
  }

  /** The needed actions reading one of `files` (absolute), and everything downstream of them. */
  affectedBy(files: Iterable<string>): Set<number> {
    const direct: number[] = [];
    for (const f of files) direct.push(...(this.readers.get(f) ?? []));
    return this.downstream(direct);
  }

  /** `ids` and every needed action consuming, through any number of steps, what they make. */
  downstream(ids: Iterable<number>): Set<number> {
    const out = new Set<number>();
    const stack = [...ids];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (out.has(id)) continue;
      out.add(id);
      stack.push(...(this.consumers.get(id) ?? []));
    }
    return out;
  }

  /** What names an action across analyses: its outputs (no two actions write the same one). */
  identity(id: number): string {
    const a = this.graph.actions[id]!;
    return JSON.stringify([a.outputs, a.outputDirs]);
  }

  /** The action as analysis described it, without its id (which another analysis may number otherwise). */
  spec(id: number): string {
    const { id: _, ...rest } = this.graph.actions[id]!;
    return JSON.stringify(rest);
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
