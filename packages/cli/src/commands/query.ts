import { HbError, query } from "@hb/core/engine";
import type { Command } from "../args";
import { choiceOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import { createTerminal } from "../ui/terminal";

export const queryCommand: Command = {
  name: "query",
  summary: "Answer questions about the target graph.",
  usage: "hb query [--output label|json] '<expression>'",
  description: [
    "expressions:",
    "  //pkg:name  //pkg/...  //...        targets matching a pattern",
    "  deps(x [, depth])                   x and everything it depends on",
    "  rdeps(universe, x [, depth])        targets in universe that depend on x (universe defaults to //...)",
    "  kind(regex, x)                      targets of x whose rule kind matches",
    "  x + y, x - y, x ^ y                 union, difference, intersection",
  ].join("\n"),
  options: {
    output: { type: "string", valueName: "FORMAT", description: "label (one per line, default) or json" },
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    if (positionals.length !== 1) {
      throw new HbError("USAGE", "hb query takes one expression (quote it)", { hint: "e.g. hb query 'deps(//app:bundle)'" });
    }
    const output = choiceOption(values, "output", ["label", "json"] as const) ?? "label";
    const term = createTerminal();
    const nodes = await query({
      cwd,
      expression: positionals[0]!,
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
      onLockWait: (m) => term.line(`hb: ${m}`),
      onLog: (l) => term.line(`DEBUG: ${l}`),
    });
    if (output === "json") {
      const json = nodes.map((n) =>
        n.target
          ? { label: n.label, kind: n.kind, location: n.target.location, deps: n.target.deps, files: n.target.files, tags: n.target.tags }
          : { label: n.label, kind: n.kind },
      );
      process.stdout.write(JSON.stringify(json, null, 2) + "\n");
    } else {
      process.stdout.write(nodes.map((n) => n.label).join("\n") + (nodes.length > 0 ? "\n" : ""));
    }
    return 0;
  },
};
