import { clean } from "@hb/core/engine";
import type { Command } from "../args";
import { stringOption } from "../args";
import { createTerminal } from "../ui/terminal";

export const cleanCommand: Command = {
  name: "clean",
  summary: "Remove hb-out/ (outputs); the local cache stays, so the next build restores from it.",
  usage: "hb clean [--expunge]",
  description: "--expunge also removes the output base (.hb/: local CAS, action cache, stat cache): the next build runs every action.",
  options: {
    expunge: { type: "boolean", description: "also remove the whole output base (every local cache)" },
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
  },
  async run({ values, cwd, signal }) {
    const term = createTerminal();
    const r = await clean({
      cwd,
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      expunge: values.expunge === true,
      signal,
      onLockWait: (m) => term.line(`hb: ${m}`),
    });
    if (values.expunge !== true) term.line(`hb: removed ${r.outDir}`);
    else if (r.kept.length === 0) term.line(`hb: removed ${r.outDir} and ${r.outputBase}`);
    else {
      const shown = `${r.kept.slice(0, 5).join(", ")}${r.kept.length > 5 ? `, ... (${r.kept.length})` : ""}`;
      term.line(`hb: removed ${r.outDir} and hb's state in ${r.outputBase}; kept what is not hb's there: ${shown}`);
    }
    return 0;
  },
};
