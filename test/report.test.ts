// --report FILE is checked before the build and written after it: when writing it fails after
// all (the path became a directory meanwhile), hb says why and the exit code stays the build's.
import { execa } from "execa";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HB, makeWorkspace } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';

describe("--report that cannot be written after the build", () => {
  it.each([
    ["a build that succeeds", "exit 0", 0],
    ["a build that fails", "exit 1", 1],
  ])("keeps the exit code of %s and says why", async (_what, cmdEnd, exitCode) => {
    const ws = makeWorkspace({ "a/BUILD.ts": G + `genrule({ name: "a", outs: ["o"], cmd: "sleep 2; echo > $@; ${cmdEnd}" });\n` });
    mkdirSync(join(ws, "out"));
    const run = execa(process.execPath, [HB, "build", "//a", "--report", "out/r.json"], {
      cwd: ws,
      reject: false,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      extendEnv: false,
    });
    // once the build is under way, something takes the report's path
    await new Promise((r) => setTimeout(r, 1200));
    mkdirSync(join(ws, "out/r.json"));
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(exitCode);
    expect(r.stderr).toMatch(new RegExp(`ERROR: cannot write the report to .*out/r\\.json: it is a directory; the .* \\(${exitCode}\\)`));
    expect(r.stderr).toMatch(/hb: 1 actions:/);
  });
});
