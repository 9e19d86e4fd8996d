import { type ActionGraph, OUT_DIR } from "../base/graph";

// release.targets may be patterns (//app/...): what they stand for is read from the graph
// analysed for them, once, by every command that asks which targets and files are the release's.

export interface ReleaseSet {
  /** the labels release.targets expanded to, in request order */
  labels: ReadonlySet<string>;
  /** those and every label they depend on, directly or not: what a release artifact is made from */
  closure: ReadonlySet<string>;
  /** the release artifacts: the release targets' outputs under hb-out/, workspace-relative, in order */
  outputs: readonly string[];
}

/** The release set of `graph`, the graph analysed for release.targets. */
export function releaseSet(graph: ActionGraph): ReleaseSet {
  const labels = new Set(graph.requested);
  const targets = new Map(graph.targets.map((t) => [t.label, t]));
  const closure = new Set<string>();
  const stack = [...labels];
  while (stack.length > 0) {
    const l = stack.pop()!;
    if (closure.has(l)) continue;
    closure.add(l);
    stack.push(...(targets.get(l)?.deps ?? []));
  }
  const outputs = [...labels].flatMap((l) => targets.get(l)?.files.filter((f) => f.startsWith(`${OUT_DIR}/`)) ?? []);
  return { labels, closure, outputs };
}
