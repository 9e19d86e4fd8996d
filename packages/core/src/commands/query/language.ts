import { HbError, didYouMean } from "../../base/errors";
import type { ActionGraph, TargetInfo } from "../../base/graph";

// A small subset of Bazel's query language over the target graph:
//   deps(x [, depth])  rdeps(universe, x [, depth])  rdeps(x)  kind(regex, x)
//   x + y  x union y  x - y  x except y  x ^ y  x intersect y  ( ... )  and target patterns.

export type QueryExpr =
  | { op: "pattern"; text: string }
  | { op: "deps"; of: QueryExpr; depth?: number }
  | { op: "rdeps"; universe?: QueryExpr; of: QueryExpr; depth?: number }
  | { op: "kind"; regex: string; of: QueryExpr }
  | { op: "union" | "except" | "intersect"; left: QueryExpr; right: QueryExpr };

type Token = { kind: "word" | "punct"; text: string; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:([(),+^-])|"([^"]*)"|'([^']*)'|([^\s(),+^"']+))/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length && (m = re.exec(text))) {
    if (m[0].trim() === "") break;
    const start = at + m[0].length - m[0].trimStart().length;
    if (m[1] !== undefined) tokens.push({ kind: "punct", text: m[1], at: start });
    else tokens.push({ kind: "word", text: m[2] ?? m[3] ?? m[4]!, at: start });
    at = re.lastIndex;
  }
  if (text.slice(at).trim() !== "") throw syntax(text, at, "unexpected character");
  return tokens;
}

const FUNCTIONS = ["deps", "rdeps", "kind"];

function syntax(text: string, at: number, why: string): HbError {
  return new HbError("QUERY_SYNTAX", `bad query '${text}' at offset ${at}: ${why}`, {
    hint: "e.g. 'deps(//app:bundle)', 'rdeps(//..., //lib:core)', '//pkg/... - //pkg/tests/...'",
  });
}

/** A pattern token may contain '-' and '+' (labels do); operators must stand alone. */
export function parseQuery(text: string): QueryExpr {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    const tok = tokens[i];
    if (!tok || tok.text !== t) throw syntax(text, tok?.at ?? text.length, `expected '${t}'`);
    i++;
  };
  const num = (): number => {
    const tok = tokens[i++];
    const n = Number(tok?.text);
    if (!tok || !Number.isInteger(n) || n < 0) throw syntax(text, tok?.at ?? text.length, "expected a depth (integer)");
    return n;
  };
  const primary = (): QueryExpr => {
    const tok = tokens[i++];
    if (!tok) throw syntax(text, text.length, "unexpected end");
    if (tok.text === "(") {
      const e = expr();
      expect(")");
      return e;
    }
    if (tok.kind !== "word") throw syntax(text, tok.at, `unexpected '${tok.text}'`);
    if (peek()?.text === "(" && !FUNCTIONS.includes(tok.text)) {
      const guess = didYouMean(tok.text, FUNCTIONS);
      throw syntax(
        text,
        tok.at,
        `unknown function '${tok.text}'${guess ? ` (did you mean ${guess}?)` : ""}; known: ${FUNCTIONS.join(", ")}`,
      );
    }
    if (peek()?.text === "(") {
      i++;
      if (tok.text === "kind") {
        const re = tokens[i++];
        if (!re || re.kind !== "word") throw syntax(text, re?.at ?? text.length, "expected a pattern for kind()");
        try {
          new RegExp(re.text);
        } catch (e) {
          throw syntax(text, re.at, `kind()'s pattern is not a regular expression: ${(e as Error).message}`);
        }
        expect(",");
        const of = expr();
        expect(")");
        return { op: "kind", regex: re.text, of };
      }
      const first = expr();
      let second: QueryExpr | undefined;
      let depth: number | undefined;
      if (peek()?.text === ",") {
        i++;
        if (tok.text === "rdeps") second = expr();
        else depth = num();
      }
      if (tok.text === "rdeps" && peek()?.text === ",") {
        i++;
        depth = num();
      }
      expect(")");
      if (tok.text === "deps") return { op: "deps", of: first, depth };
      return second ? { op: "rdeps", universe: first, of: second, depth } : { op: "rdeps", of: first, depth };
    }
    return { op: "pattern", text: tok.text };
  };
  const expr = (): QueryExpr => {
    let left = primary();
    for (;;) {
      const t = peek();
      const op =
        t?.text === "+" || t?.text === "union"
          ? "union"
          : t?.text === "-" || t?.text === "except"
            ? "except"
            : t?.text === "^" || t?.text === "intersect"
              ? "intersect"
              : undefined;
      if (!op) return left;
      i++;
      left = { op, left, right: primary() };
    }
  };
  const e = expr();
  if (i < tokens.length) throw syntax(text, tokens[i]!.at, `unexpected '${tokens[i]!.text}'`);
  return e;
}

/** Target patterns the expression mentions: what must be analyzed to answer it. */
export function queryPatterns(e: QueryExpr, out: string[] = []): string[] {
  switch (e.op) {
    case "pattern":
      out.push(e.text);
      break;
    case "deps":
    case "kind":
      queryPatterns(e.of, out);
      break;
    case "rdeps":
      if (e.universe) queryPatterns(e.universe, out);
      else out.push("//...");
      queryPatterns(e.of, out);
      break;
    default:
      queryPatterns(e.left, out);
      queryPatterns(e.right, out);
  }
  return out;
}

export interface QueryNode {
  label: string;
  /** rule kind, or "source file" */
  kind: string;
  target?: TargetInfo;
}

/**
 * Evaluates a query over an analyzed graph. `expand(pattern)` gives the labels a target pattern
 * matched (the analysis expanded each pattern separately).
 */
export function evaluateQuery(e: QueryExpr, graph: ActionGraph, expand: (pattern: string) => string[]): QueryNode[] {
  const targets = new Map(graph.targets.map((t) => [t.label, t]));
  const node = (label: string): QueryNode => {
    const t = targets.get(label);
    return t ? { label, kind: t.kind, target: t } : { label, kind: "source file" };
  };
  const closure = (start: Iterable<string>, next: (l: string) => readonly string[], depth?: number): Set<string> => {
    const seen = new Set<string>(start);
    let frontier = [...seen];
    for (let d = 0; frontier.length > 0 && (depth === undefined || d < depth); d++) {
      const n: string[] = [];
      for (const l of frontier) for (const x of next(l)) if (!seen.has(x)) (seen.add(x), n.push(x));
      frontier = n;
    }
    return seen;
  };
  const ev = (x: QueryExpr): Set<string> => {
    switch (x.op) {
      case "pattern":
        return new Set(expand(x.text));
      case "deps":
        return closure(ev(x.of), (l) => targets.get(l)?.deps ?? [], x.depth);
      case "rdeps": {
        const universe = closure(
          x.universe ? ev(x.universe) : new Set(graph.targets.map((t) => t.label)),
          (l) => targets.get(l)?.deps ?? [],
        );
        const reverse = new Map<string, string[]>();
        for (const l of universe) {
          for (const d of targets.get(l)?.deps ?? []) {
            if (!reverse.has(d)) reverse.set(d, []);
            reverse.get(d)!.push(l);
          }
        }
        const start = [...ev(x.of)].filter((l) => universe.has(l));
        return closure(start, (l) => reverse.get(l) ?? [], x.depth);
      }
      case "kind": {
        const re = new RegExp(x.regex);
        return new Set([...ev(x.of)].filter((l) => re.test(node(l).kind)));
      }
      case "union":
        return new Set([...ev(x.left), ...ev(x.right)]);
      case "except": {
        const r = ev(x.right);
        return new Set([...ev(x.left)].filter((l) => !r.has(l)));
      }
      case "intersect": {
        const r = ev(x.right);
        return new Set([...ev(x.left)].filter((l) => r.has(l)));
      }
    }
  };
  return [...ev(e)].sort().map(node);
}
