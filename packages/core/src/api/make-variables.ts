import { HbError, type SourceLocation } from "../base/errors";

export interface MakeVariableContext {
  /** `$(NAME)` variables: SRCS, OUTS, RULEDIR, ... */
  vars: Readonly<Record<string, string>>;
  /** files of a label written in `$(location x)`, or undefined when x names nothing the rule declares */
  locations(labelText: string): readonly string[] | undefined;
  /** for `$@` */
  outs: readonly string[];
  /** for `$<` */
  srcs: readonly string[];
  /** the target, for messages */
  label: string;
  attribute: string;
  location?: SourceLocation;
}

const LOCATION_FUNCTIONS = new Set(["location", "locations", "execpath", "execpaths", "rootpath", "rootpaths"]);

/**
 * Expands Bazel's make variables in a genrule `cmd`: `$(SRCS) $(OUTS) $(RULEDIR) $(@D)`,
 * `$(location x)` and friends, `$@`, `$<`, and `$$` for a literal `$`.
 */
export function expandMakeVariables(text: string, ctx: MakeVariableContext): string {
  const fail = (message: string, hint?: string) =>
    new HbError("BAD_MAKE_VARIABLE", `in attribute '${ctx.attribute}' of ${ctx.label}: ${message}`, {
      location: ctx.location,
      hint,
    });
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "$") {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "@") {
      if (ctx.outs.length !== 1) throw fail(`'$@' needs exactly one output, there are ${ctx.outs.length}`, "use $(OUTS)");
      out += ctx.outs[0];
      i++;
    } else if (next === "<") {
      if (ctx.srcs.length !== 1) throw fail(`'$<' needs exactly one source file, there are ${ctx.srcs.length}`, "use $(SRCS)");
      out += ctx.srcs[0];
      i++;
    } else if (next === "(") {
      const close = text.indexOf(")", i + 2);
      if (close < 0) throw fail(`unterminated '$(' at offset ${i}`);
      const body = text.slice(i + 2, close).trim();
      i = close;
      const space = body.search(/\s/);
      if (space > 0 && LOCATION_FUNCTIONS.has(body.slice(0, space))) {
        const fn = body.slice(0, space);
        const arg = body.slice(space).trim();
        const files = ctx.locations(arg);
        if (files === undefined) {
          throw fail(`label '${arg}' in $(${fn} ...) is not in srcs, outs, tools or deps`, "add it to one of them");
        }
        if (!fn.endsWith("s") && files.length !== 1) {
          throw fail(`$(${fn} ${arg}) expands to ${files.length} files, not one`, `use $(${fn}s ${arg})`);
        }
        out += files.join(" ");
        continue;
      }
      const value = ctx.vars[body];
      if (value === undefined) {
        throw fail(
          `unknown make variable $(${body})`,
          `known: ${Object.keys(ctx.vars)
            .map((v) => `$(${v})`)
            .join(" ")}, $(location x); write $$ for a literal $`,
        );
      }
      out += value;
    } else {
      throw fail(`'$${next ?? ""}' is not a make variable`, "write $$ for a shell '$' (e.g. $$HOME, $$(date))");
    }
  }
  return out;
}
