// Long command lines (issue 20): what the kernel would refuse to start (E2BIG) either goes
// through a file or is refused at analysis, naming the argument.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace } from "./helpers";

const G = 'import { genrule, glob, rule } from "@hb/core";\n';

describe("command lines over the kernel's limit", () => {
  it("a genrule over 8,000 sources runs: its command goes to a script file bash reads", async () => {
    const sources: Record<string, string> = {};
    for (let i = 0; i < 8000; i++) sources[`p/src/a-source-file-of-a-large-package-${String(i).padStart(5, "0")}.txt`] = `${i}\n`;
    const ws = makeWorkspace({
      ...sources,
      "p/BUILD.ts":
        G +
        'genrule({ name: "count", srcs: glob(["src/*.txt"]), outs: ["count.txt"], cmd: "cat $(SRCS) | wc -l > $@" });\n' +
        'genrule({ name: "fails", srcs: glob(["src/*.txt"]), outs: ["no.txt"], cmd: "cat $(SRCS) > /dev/null; false; touch $@" });\n' +
        'genrule({ name: "short", srcs: ["src/a-source-file-of-a-large-package-00000.txt"], outs: ["one.txt"], cmd: "cat $(SRCS) > $@" });\n',
    });
    const r = await hb(ws, ["build", "//p:count", "//p:short"]);
    expect(r.exitCode, r.output.slice(0, 3000)).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/count.txt"), "utf8").trim()).toBe("8000");
    expect(readFileSync(join(ws, "hb-out/p/count.genrule_script.sh"), "utf8")).toContain(
      "cat p/src/a-source-file-of-a-large-package-00000.txt ",
    );
    // a command within the limit stays on bash's command line
    expect(existsSync(join(ws, "hb-out/p/short.genrule_script.sh"))).toBe(false);
    // strict mode holds in the script too
    const fails = await hb(ws, ["build", "//p:fails"]);
    expect(fails.exitCode, fails.output.slice(-2000)).toBe(1);
    expect(fails.stderr).toContain("command: /bin/bash hb-out/p/fails.genrule_script.sh");
  });

  it("a rule's own action over the limit is refused at analysis, naming the argument and the BUILD.ts", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        "const long = rule({ attrs: {}, impl(ctx) {\n" +
        '  const out = ctx.declareFile(ctx.name + ".txt");\n' +
        '  ctx.actions.run({ executable: "/bin/echo", arguments: ["-n", "x".repeat(200000)], outputs: [out] });\n' +
        "  return { files: [out] };\n" +
        "} });\n" +
        'long({ name: "long" });\n',
    });
    const r = await hb(ws, ["build", "//p:long"]);
    expect(r.exitCode, r.output.slice(-2000)).toBe(2);
    expect(r.stderr).toContain(
      "ctx.actions.run in //p:long: arguments[1] is 200001 bytes, over Linux's limit of 131072 for one argument: it would fail to start with E2BIG",
    );
    expect(r.stderr).toContain("ERROR: p/BUILD.ts:7:");
    expect(r.stderr).toContain("parameter file (ctx.actions.write)");
  });
});
