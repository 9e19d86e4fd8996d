// Strict mode a team can turn on (issue 20): shell scripts stop at their first failure, whoever
// wrote them.
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, hb, makeWorkspace } from "./helpers";

/** A workspace holding the repository's examples and //tools, using its node_modules. */
function examples(): string {
  const ws = makeWorkspace();
  for (const d of ["examples/basic", "examples/ts-monorepo", "tools"]) cpSync(join(REPO, d), join(ws, d), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
  return ws;
}

const G = 'import { genrule, rule } from "@hb/core";\n';

describe("bash scripts of actions", () => {
  it("fail on a failing command substitution, in a genrule and in a custom rule's ctx.actions.run", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        // as examples/basic/version did: the substitution fails inside printf's arguments
        `genrule({ name: "subst", outs: ["v.json"], cmd: "printf '{\\"version\\":\\"%s\\"}' \\"$$(cat missing.txt)\\" > $@" });\n` +
        // where errexit is off on purpose, nothing changes
        `genrule({ name: "fallback", outs: ["f.txt"], cmd: "x=$$(cat missing.txt 2>/dev/null) || x=default; if y=$$(false); then :; fi; echo $$x > $@" });\n` +
        // an adopter's rule that ran tsc then wrote a stamp: it reported success over the errors
        "const checked = rule({ attrs: {}, impl(ctx) {\n" +
        '  const out = ctx.declareFile(ctx.name + ".ok");\n' +
        '  ctx.actions.run({ executable: "/bin/bash", arguments: ["-c", "false; echo ok > " + out.path], outputs: [out] });\n' +
        "  return { files: [out] };\n" +
        "} });\n" +
        'checked({ name: "custom" });\n',
    });
    const subst = await hb(ws, ["build", "//p:subst", "--report", "r.json"]);
    expect(subst.exitCode, subst.output).toBe(1);
    expect(subst.stderr).toContain("cat: missing.txt: No such file or directory");
    expect(subst.stderr).toContain("hb: cat missing.txt: exit 1 in a command substitution or subshell");
    // the failure shows the command as written, not hb's setup
    const failure = JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).failures[0];
    expect(failure.command).toBe(`printf '{"version":"%s"}' "$(cat missing.txt)" > hb-out/p/v.json`);

    const fallback = await hb(ws, ["build", "//p:fallback"]);
    expect(fallback.exitCode, fallback.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/f.txt"), "utf8")).toBe("default\n");

    const custom = await hb(ws, ["build", "//p:custom"]);
    expect(custom.exitCode, custom.output).toBe(1);
    expect(custom.stderr).toContain("ERROR: //p:custom: Action exited with code 1");
    expect(custom.stderr).toContain("command: false; echo ok > hb-out/p/custom.ok");
  });
});

describe("tests under --sandbox=strict", () => {
  it("a failing node_test shows its output and its own command, never hb's wrapper or an undeclared cat", async () => {
    const ws = examples();
    const test = join(ws, "examples/ts-monorepo/greet/src/greet.test.ts");
    writeFileSync(test, readFileSync(test, "utf8").replace('"Hello, Ada!"', '"Hallo, Ada!"'));
    const r = await hb(ws, ["test", "//examples/ts-monorepo/greet:test", "--sandbox=strict", "--report", "r.json"]);
    expect(r.exitCode, r.output).toBe(3);
    expect(r.stderr).toContain("ERROR: //examples/ts-monorepo/greet:test: NodeTest exited with code 1");
    expect(r.stderr).toContain("not ok 1 - greets by name");
    expect(r.stderr).not.toContain("is not a declared toolchain");
    const failure = JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).failures[0];
    expect(failure.command).toMatch(/^\/usr\/bin\/node --test +hb-out\/examples\/ts-monorepo\/greet\/test\/src\/greet\.test\.mjs$/);
    expect(r.stderr).toContain(`command: ${failure.command}\n`);
  });
});

describe("the examples under --sandbox=strict", () => {
  it("build to the same bytes as in the default sandbox, and their tests pass the same", async () => {
    const ws = examples();
    const outputs = (report: string) =>
      (JSON.parse(readFileSync(join(ws, report), "utf8")).targets as { label: string; outputs: { path: string; sha256: string }[] }[])
        .flatMap((t) => t.outputs.map((o) => `${o.path} ${o.sha256}`))
        .sort();
    for (const mode of ["default", "strict"]) {
      const b = await hb(ws, ["build", "//examples/...", `--sandbox=${mode}`, "--report", `${mode}.json`]);
      expect(b.exitCode, b.output).toBe(0);
      const t = await hb(ws, ["test", "//examples/...", `--sandbox=${mode}`]);
      expect(t.exitCode, t.output).toBe(0);
      expect(t.stderr).toContain("hb: 3 tests: 3 passed (0 cached), 0 failed");
    }
    expect(outputs("strict.json")).toEqual(outputs("default.json"));
    expect(outputs("strict.json")).toHaveLength(42);
    // its $(cat ...) sees the version: a missing cat no longer gives an empty one
    expect(JSON.parse(readFileSync(join(ws, "hb-out/examples/basic/version/version.json"), "utf8")).version).toBe("1.4.0");
  });
});
