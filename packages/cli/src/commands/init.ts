import { initWorkspace } from "@hb/core/engine";
import type { Command } from "../args";

export const initCommand: Command = {
  name: "init",
  summary: "Set up hb in an existing JavaScript/TypeScript workspace: hb.config.ts, //tools, a BUILD.ts per package, .gitignore lines.",
  usage: "hb init [--check]",
  description: [
    "Reads the workspace in the current directory as it is: npm, pnpm and yarn workspaces, each package's",
    "package.json (entry points, bin, dependencies, scripts) and tsconfig.json, its test files (vitest,",
    "node:test) and the tools installed (esbuild, node, typescript, pinned by digest). Each BUILD.ts gets a",
    "marked block of targets; running hb init again rewrites only that block, so hand edits outside it stay.",
    "A BUILD.ts without the marks is yours and is left alone; hb.config.ts is written only when missing.",
    "--check writes nothing and exits 1 when a file differs from what hb init would write (for CI).",
  ].join("\n"),
  options: {
    check: { type: "boolean", description: "write nothing; exit 1 when BUILD.ts files drifted from what hb init would write" },
  },
  positionals: false,
  async run({ values, cwd }) {
    const check = values.check === true;
    const r = await initWorkspace({ cwd, check });
    const verb = {
      created: check ? "would create" : "created",
      updated: check ? "would update" : "updated",
      unchanged: "unchanged",
      kept: "kept",
    };
    const lines = r.files.map((f) => `  ${verb[f.status].padEnd(12)} ${f.path}${f.reason ? ` (${f.reason})` : ""}`);
    for (const n of r.notes) lines.push(`  note: ${n}`);
    const changed = r.files.filter((f) => f.status === "created" || f.status === "updated").length;
    lines.unshift(`hb init: ${r.packages} package${r.packages === 1 ? "" : "s"} (${r.packageManager}) in ${r.root}`);
    if (check)
      lines.push(
        changed === 0 ? "hb init --check: up to date" : `hb init --check: ${changed} file(s) differ; run hb init and commit the result`,
      );
    else lines.push(changed === 0 ? "hb init: nothing to change" : "hb init: next, hb build //... and hb test //...");
    process.stdout.write(lines.join("\n") + "\n");
    return check && changed > 0 ? 1 : 0;
  },
};
