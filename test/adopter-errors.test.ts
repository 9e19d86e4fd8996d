// What an adopter's first mistakes get told (issue 20): each message names the fix.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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

describe("hb explain of a source file", () => {
  it("says it is a source and which targets read it, exit 0", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "a", srcs: ["in.txt"], outs: ["a.txt"], cmd: "cat $< > $@" });\n' +
        'genrule({ name: "b", srcs: ["in.txt"], outs: ["b.txt"], cmd: "tr a-z A-Z < $< > $@" });\n',
      "p/in.txt": "hello\n",
      "p/unused.txt": "nobody\n",
    });
    expect((await hb(ws, ["build", "//p:a", "//p:b"])).exitCode).toBe(0);
    const r = await hb(ws, ["explain", "p/in.txt"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout).toContain("a source file: hb builds from it, no action produces it");
    expect(r.stdout).toContain("read by //p:a, //p:b");
    expect(r.stdout).not.toContain("no action in the local action cache produced this content");
    const json = JSON.parse((await hb(ws, ["explain", "--output", "json", "p/in.txt"])).stdout);
    expect(json.source).toEqual({ usedBy: ["//p:a", "//p:b"] });
    const unused = await hb(ws, ["explain", "p/unused.txt"]);
    expect(unused.exitCode).toBe(0);
    expect(unused.stdout).toContain("no action in the local action cache read it");
    // an output hb never made is still not explained
    const stray = join(ws, "hb-out/p/stray.txt");
    writeFileSync(stray, "?\n");
    expect((await hb(ws, ["explain", "hb-out/p/stray.txt"])).exitCode).toBe(1);
  });
});

describe("hb build", () => {
  it("ends by listing the requested targets' outputs, as Bazel does; a count past ten targets; nothing after a failure", async () => {
    const many = Array.from({ length: 11 }, (_, i) => `genrule({ name: "g${i}", outs: ["g${i}.txt"], cmd: "echo ${i} > $@" });\n`);
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "two", outs: ["x.txt", "y.txt"], cmd: "touch $(OUTS)" });\n' +
        'genrule({ name: "bad", outs: ["z.txt"], cmd: "false" });\n' +
        many.join(""),
    });
    const r = await hb(ws, ["build", "//p:two", "//p:g0"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain(
      "Target //p:two up to date:\n  hb-out/p/x.txt\n  hb-out/p/y.txt\nTarget //p:g0 up to date:\n  hb-out/p/g0.txt",
    );
    // a second, no-op build says the same
    expect((await hb(ws, ["build", "//p:two", "//p:g0"])).stderr).toContain("Target //p:two up to date:\n  hb-out/p/x.txt\n");
    const all = await hb(ws, ["build", ...many.map((_, i) => `//p:g${i}`)]);
    expect(all.stderr).toContain("hb: 11 targets up to date (--report FILE lists each one's outputs)");
    expect(all.stderr).not.toContain("Target //p:g0");
    const bad = await hb(ws, ["build", "//p:bad"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).not.toContain("up to date");
  });
});

describe("a download in an action", () => {
  it("fails with the hint that actions have no network, and where downloads go", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        'import { genrule, local_toolchain } from "@hb/core";\n' +
        'local_toolchain({ name: "curl", path: "/usr/bin/curl" });\n' +
        'genrule({ name: "get", outs: ["page.html"], tools: [":curl"], cmd: "curl -fsS https://example.com/ -o $@" });\n',
    });
    const r = await hb(ws, ["build", "//p:get"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/curl: \(\d+\) (Could not|Couldn't) resolve host/);
    expect(r.stderr).toContain("actions have no network: download before the build with http_file({ url, sha256 })");
  });
});
