// What an adopter's first mistakes get told (issue 20): each message names the fix.
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';

describe("did you mean", () => {
  it("names the closest package across the workspace, and the closest target with letters swapped", async () => {
    const ws = makeWorkspace({
      "libs/text/BUILD.ts":
        G +
        'genrule({ name: "text", outs: ["t.txt"], cmd: "echo t > $@" });\n' +
        'genrule({ name: "set", outs: ["s.txt"], cmd: "echo s > $@" });\n' +
        'genrule({ name: "test", outs: ["u.txt"], cmd: "echo u > $@" });\n',
      "app/BUILD.ts": G + 'genrule({ name: "app", srcs: ["//libs/txt:text"], outs: ["a.txt"], cmd: "cat $< > $@" });\n',
    });
    const pkg = await hb(ws, ["build", "//libs/txt:text"]);
    expect(pkg.exitCode).toBe(2);
    expect(pkg.stderr).toContain("no package '//libs/txt'");
    expect(pkg.stderr).toContain("did you mean //libs/text:text?");
    const tree = await hb(ws, ["build", "//libs/tetx/..."]);
    expect(tree.exitCode).toBe(2);
    expect(tree.stderr).toContain("did you mean //libs/text/...?");
    const target = await hb(ws, ["build", "//libs/text:tset"]);
    expect(target.exitCode).toBe(2);
    expect(target.stderr).toContain("did you mean //libs/text:test?");
    const dep = await hb(ws, ["build", "//app"]);
    expect(dep.exitCode).toBe(2);
    expect(dep.stderr).toContain("no package '//libs/txt' (no BUILD.ts in libs/txt/), needed by //app:app");
    expect(dep.stderr).toContain("did you mean '//libs/text:text'?");
  });
});
