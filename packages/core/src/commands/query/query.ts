import { formatLabel, isPackageUnder, parseTargetPattern } from "../../base/label";
import { OutputBase } from "../../caching/output-base";
import { lockOutputBase } from "../../workspace/lock";
import { openWorkspace, workspaceRelative } from "../../workspace/workspace";
import { analyzeWorkspace } from "../analyze";
import { type QueryNode, evaluateQuery, parseQuery, queryPatterns } from "./language";

export interface QueryOptions {
  cwd: string;
  expression: string;
  outputBase?: string;
  analyzerScript: string;
  signal: AbortSignal;
  /** another hb holds the output base: hb waits, and says so */
  onLockWait?(message: string): void;
  /** lines BUILD.ts files printed */
  onLog?(line: string): void;
}

/** `hb query`: the targets an expression names, from the graph of the patterns it mentions. */
export async function query(opts: QueryOptions): Promise<QueryNode[]> {
  const expr = parseQuery(opts.expression);
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  const lock = await lockOutputBase(workspace.outputBase, (m) => opts.onLockWait?.(m), opts.signal);
  const base = new OutputBase(workspace.outputBase);
  try {
    const { graph } = await analyzeWorkspace({
      workspace,
      base,
      patterns: [...new Set(queryPatterns(expr))],
      cwd: opts.cwd,
      analyzerScript: opts.analyzerScript,
      sandboxed: true,
      signal: opts.signal,
      onLog: opts.onLog,
    });
    const cwdPkg = workspaceRelative(workspace.root, opts.cwd);
    const pkgOf = (label: string) => label.slice(2, label.indexOf(":"));
    const expand = (text: string): string[] => {
      const p = parseTargetPattern(text, cwdPkg);
      if (p.kind === "target") return [formatLabel(p.label)];
      return graph.targets
        .filter((t) => !t.tags.includes("manual") || graph.requested.includes(t.label))
        .filter((t) => (p.kind === "package" ? pkgOf(t.label) === p.pkg : isPackageUnder(pkgOf(t.label), p.pkg)))
        .map((t) => t.label);
    };
    return evaluateQuery(expr, graph, expand);
  } finally {
    base.close();
    lock.release();
  }
}
