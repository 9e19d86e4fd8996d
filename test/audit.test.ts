import { cpSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, hb, makeWorkspace } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';

describe("hb build --audit", () => {
  it("reports an action reading /etc/passwd and one trying a TCP connection, and nothing for a clean action", async () => {
    const ws = makeWorkspace({
      "p/in.txt": "hello\n",
      "p/BUILD.ts":
        G +
        'genrule({ name: "clean", srcs: ["in.txt"], outs: ["c.txt"], cmd: "cp $< $@; tr a-z A-Z < $< >> $@; ls -f p > /dev/null; date -u +%Y -d @0 >> $@" });\n' +
        'genrule({ name: "passwd", outs: ["p.txt"], cmd: "cat /etc/passwd > $@" });\n' +
        'genrule({ name: "net", outs: ["n.txt"], cmd: "(exec 3<>/dev/tcp/10.9.8.7/8080) 2>/dev/null || true; echo x > $@" });\n',
    });
    // built once normally: the audit must re-run them anyway (cache bypassed)
    expect((await hb(ws, ["build", "//p:all"])).exitCode).toBe(0);
    const r = await hb(ws, ["build", "//p:all", "--audit", "--report", "audit.json"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain("3 executed");
    const report = JSON.parse(readFileSync(join(ws, "audit.json"), "utf8"));
    expect(report.audit).toEqual([
      { label: "//p:net", reads: [], connects: ["10.9.8.7:8080"] },
      { label: "//p:passwd", reads: ["/etc/passwd"], connects: [] },
    ]);
    expect(report.hermeticViolations).toBe(2);
    expect(r.stderr).toContain("AUDIT: //p:passwd read /etc/passwd");
    expect(r.stderr).toContain("AUDIT: //p:net connected to 10.9.8.7:8080");
    expect(r.stderr).toContain("hb: audit: 2 hermeticity violations in 2 actions");
  });

  it("counts a failed open of a hidden path, and audits in strict mode too", async () => {
    const ws = makeWorkspace({
      // a shell redirection: bash itself opens the file, in strict mode too (cat would not be there)
      "p/BUILD.ts":
        G + 'genrule({ name: "peek", outs: ["o.txt"], cmd: "(read -r key < /root/.ssh/id_rsa) 2>/dev/null || true; echo none > $@" });\n',
    });
    for (const mode of ["default", "strict"]) {
      const r = await hb(ws, ["build", "//p:peek", "--audit", `--sandbox=${mode}`, "--report", "a.json"]);
      expect(r.exitCode, r.output).toBe(0);
      expect(JSON.parse(readFileSync(join(ws, "a.json"), "utf8")).audit).toEqual([
        { label: "//p:peek", reads: ["/root/.ssh/id_rsa"], connects: [] },
      ]);
    }
  });

  it("counts nothing every program does on the examples (tar -C, cd, esbuild listing /, node's package.json walk), yet finds a read after a cd", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G + 'genrule({ name: "cd", outs: ["o.txt"], cmd: "cd /etc && cat passwd > /dev/null; cd - > /dev/null; echo ok > $@" });\n',
    });
    for (const d of ["examples/basic", "examples/ts-monorepo", "tools"]) cpSync(join(REPO, d), join(ws, d), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
    const r = await hb(ws, ["build", "//examples/...", "--audit", "--report", "audit.json"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, "audit.json"), "utf8"))).toMatchObject({ audit: [], hermeticViolations: 0 });
    // the path a relative open names is read against where the process was then
    const cd = await hb(ws, ["build", "//p:cd", "--audit", "--report", "cd.json"]);
    expect(cd.exitCode, cd.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, "cd.json"), "utf8")).audit).toEqual([
      { label: "//p:cd", reads: ["/etc/passwd"], connects: [] },
    ]);
  });

  it("audits tests too: hb test --audit finds nothing in the examples' tests, and finds a test that reads /etc/passwd", async () => {
    const ws = makeWorkspace({
      "t/BUILD.ts": 'import { node_test } from "@hb/rules-node";\nnode_test({ name: "peek", srcs: ["peek.test.js"] });\n',
      "t/peek.test.js":
        'import { readFileSync } from "node:fs";\nimport { test } from "node:test";\ntest("peek", () => { readFileSync("/etc/passwd"); });\n',
    });
    for (const d of ["examples/ts-monorepo", "tools"]) cpSync(join(REPO, d), join(ws, d), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
    const clean = await hb(ws, ["test", "//examples/ts-monorepo/...", "--audit", "--report", "clean.json"]);
    expect(clean.exitCode, clean.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, "clean.json"), "utf8"))).toMatchObject({ audit: [], hermeticViolations: 0 });
    const peek = await hb(ws, ["test", "//t:peek", "--audit", "--report", "peek.json"]);
    expect(peek.exitCode, peek.output).toBe(0);
    expect(peek.stderr).toContain("AUDIT: //t:peek read /etc/passwd");
    expect(JSON.parse(readFileSync(join(ws, "peek.json"), "utf8")).audit).toEqual([
      { label: "//t:peek", reads: ["/etc/passwd"], connects: [] },
    ]);
  });
});
