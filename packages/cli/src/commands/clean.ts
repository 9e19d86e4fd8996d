import { readdirSync, rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { isOutputBaseEntry, lockOutputBase, openWorkspace } from "@hb/core";
import type { Command } from "../args";
import { stringOption } from "../args";
import { createTerminal } from "../ui/terminal";

const isLock = (entry: string) => /^lock\.(db|pid)/.test(entry);

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
    const workspace = openWorkspace({ cwd, outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE });
    const base = workspace.outputBase;
    const term = createTerminal();
    const lock = await lockOutputBase(base, (m) => term.line(`hb: ${m}`), signal);
    let kept: string[] = [];
    try {
      rmSync(workspace.outDir, { recursive: true, force: true });
      if (values.expunge === true) {
        // only what hb keeps there: a mistyped --output-base or HB_OUTPUT_BASE costs no one's files;
        // the lock we hold goes last
        for (const entry of readdirSync(base)) {
          if (!isOutputBaseEntry(entry)) kept.push(entry);
          else if (!isLock(entry)) rmSync(join(base, entry), { recursive: true, force: true });
        }
      }
    } finally {
      lock.release();
    }
    if (values.expunge !== true) {
      term.line(`hb: removed ${workspace.outDir}`);
      return 0;
    }
    for (const entry of readdirSync(base)) if (isLock(entry)) rmSync(join(base, entry), { force: true });
    if (kept.length === 0) {
      try {
        rmdirSync(base);
      } catch {
        // something appeared there meanwhile: it stays
      }
      term.line(`hb: removed ${workspace.outDir} and ${base}`);
    } else {
      kept = kept.sort();
      term.line(
        `hb: removed ${workspace.outDir} and hb's state in ${base}; kept what is not hb's there: ${kept.slice(0, 5).join(", ")}${kept.length > 5 ? `, ... (${kept.length})` : ""}`,
      );
    }
    return 0;
  },
};
