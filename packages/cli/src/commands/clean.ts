import { HbError, clean, parseDuration } from "@hb/core/engine";
import type { Command } from "../args";
import { stringOption } from "../args";
import { createTerminal } from "../ui/terminal";

export const cleanCommand: Command = {
  name: "clean",
  summary: "Remove hb-out/ (outputs); the local cache stays, so the next build restores from it.",
  usage: "hb clean [--expunge | --older-than 7d]",
  description:
    "--expunge also removes the output base (.hb/: local CAS, action cache, stat cache): the next build runs every action. " +
    "--older-than removes only what no build used for that long from the local cache (hb-out/ stays); " +
    "every build keeps the cache within cache.maxSize of hb.config.ts (default 4 GiB).",
  options: {
    expunge: { type: "boolean", description: "also remove the whole output base (every local cache)" },
    "older-than": { type: "string", valueName: "AGE", description: "only the cache's blobs unused this long: 7d, 12h, 30m" },
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
  },
  async run({ values, cwd, signal }) {
    const term = createTerminal();
    const age = stringOption(values, "older-than");
    const olderThanMs = age === undefined ? undefined : parseDuration(age);
    if (age !== undefined && olderThanMs === undefined)
      throw new HbError("USAGE", `--older-than takes an age such as 7d, 12h or 30m, not '${age}'`);
    if (age !== undefined && values.expunge === true)
      throw new HbError("USAGE", "--older-than and --expunge do not go together", { hint: "--expunge removes every cache, however old" });
    const r = await clean({
      cwd,
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      expunge: values.expunge === true,
      olderThanMs,
      signal,
      onLockWait: (m) => term.line(`hb: ${m}`),
    });
    if (r.evicted) {
      const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
      term.line(
        `hb: removed ${r.evicted.blobs} cache blob(s) unused for ${age} (${mib(r.evicted.bytes)}); ${mib(r.evicted.keptBytes)} kept`,
      );
    } else if (values.expunge !== true) term.line(`hb: removed ${r.outDir}`);
    else if (r.kept.length === 0) term.line(`hb: removed ${r.outDir} and ${r.outputBase}`);
    else {
      const shown = `${r.kept.slice(0, 5).join(", ")}${r.kept.length > 5 ? `, ... (${r.kept.length})` : ""}`;
      term.line(`hb: removed ${r.outDir} and hb's state in ${r.outputBase}; kept what is not hb's there: ${shown}`);
    }
    return 0;
  },
};
