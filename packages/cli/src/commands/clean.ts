import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { HbError, lockOutputBase, openWorkspace } from "@hb/core";
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
    const workspace = openWorkspace({ cwd, outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE });
    const base = workspace.outputBase;
    // a mistyped --output-base or HB_OUTPUT_BASE must not cost a directory of someone's files
    if (values.expunge === true && existsSync(base) && readdirSync(base).length > 0 && !existsSync(join(base, "hb.db"))) {
      throw new HbError("USAGE", `not removing ${base}: it is not an hb output base (no hb.db in it)`, {
        hint: "check --output-base and HB_OUTPUT_BASE; hb clean --expunge removes only a directory hb keeps its state in",
      });
    }
    const term = createTerminal();
    const lock = await lockOutputBase(workspace.outputBase, (m) => term.line(`hb: ${m}`), signal);
    try {
      rmSync(workspace.outDir, { recursive: true, force: true });
      if (values.expunge === true && existsSync(workspace.outputBase)) {
        // everything but the lock we hold; it goes last
        for (const entry of readdirSync(workspace.outputBase)) {
          if (entry !== "lock.db" && entry !== "lock.pid") rmSync(join(workspace.outputBase, entry), { recursive: true, force: true });
        }
      }
    } finally {
      lock.release();
    }
    if (values.expunge === true) rmSync(workspace.outputBase, { recursive: true, force: true });
    term.line(values.expunge === true ? `hb: removed ${workspace.outDir} and ${workspace.outputBase}` : `hb: removed ${workspace.outDir}`);
    return 0;
  },
};
