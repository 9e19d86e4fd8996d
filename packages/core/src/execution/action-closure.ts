import type { ActionGraph, ExecPath } from "../base/graph";
import { HbError } from "../base/errors";

/** exec path of every output file and output directory -> id of the action that writes it */
export function producers(graph: ActionGraph): Map<ExecPath, number> {
  const producer = new Map<ExecPath, number>();
  for (const a of graph.actions) {
    for (const p of a.outputs) producer.set(p, a.id);
    for (const p of a.outputDirs) producer.set(p, a.id);
  }
  return producer;
}

/**
 * Ids of the actions needed for the default outputs, runfiles and executables of `labels`,
 * ascending. Ids are assigned in analysis order, dependencies first, so this is a build order.
 */
export function actionsNeededBy(
  graph: ActionGraph,
  labels: readonly string[],
  producer = producers(graph),
  extraOutputs: readonly ExecPath[] = [],
): number[] {
  const targets = new Map(graph.targets.map((t) => [t.label, t]));
  const needed = new Set<number>();
  const stack: number[] = [];
  const want = (p: ExecPath) => {
    const id = producer.get(p);
    if (id !== undefined && !needed.has(id)) {
      needed.add(id);
      stack.push(id);
    }
  };
  for (const label of labels) {
    const t = targets.get(label);
    if (!t) throw new HbError("INTERNAL", `target ${label} is not in the action graph`);
    for (const p of t.files) want(p);
    for (const p of t.runfiles ?? []) want(p);
    if (t.executable) want(t.executable);
  }
  for (const p of extraOutputs) want(p);
  while (stack.length > 0) {
    const a = graph.actions[stack.pop()!]!;
    for (const p of a.inputs) want(p);
    for (const p of a.tools) want(p);
  }
  return [...needed].sort((a, b) => a - b);
}
