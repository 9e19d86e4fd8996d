import { realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeWorkspace, tempDir, writeFiles } from "../../../../test/helpers";
import { type AnalysisResponse, analysisResponse, loadAndAnalyze } from "./evaluator";
import { LoadingHost } from "../loading/loading-host";
import { SHELL_SETUP } from "../api/shell";

/** Loading and analysis in this process, served by a host as the sandboxed evaluator is. */
async function analyzeAt(root: string, patterns: string[]): Promise<AnalysisResponse> {
  const host = new LoadingHost(root);
  return analysisResponse(
    host,
    await loadAndAnalyze({ workspaceRoot: root, workspaceRealRoot: realpathSync(root), patterns, cwdPkg: "" }, host),
  );
}

async function analyze(files: Record<string, string>, patterns: string[], config?: string): Promise<AnalysisResponse> {
  return analyzeAt(makeWorkspace(files, config), patterns);
}

async function analysisError(files: Record<string, string>, patterns = ["//..."], config?: string) {
  const r = await analyze(files, patterns, config);
  if (r.ok) throw new Error("expected an analysis error");
  return r.error;
}

const GENRULE = 'import { genrule, filegroup, glob } from "@hb/core";\n';

describe("loading and analysis", () => {
  it("turns a genrule into one action with expanded make variables", async () => {
    const r = await analyze(
      {
        "a/BUILD.ts":
          GENRULE + 'genrule({ name: "g", srcs: ["in.txt"], outs: ["out.txt"], cmd: "cp $< $@ && echo $(location in.txt) $$X" });',
        "a/in.txt": "x",
      },
      ["//a:g"],
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.graph.requested).toEqual(["//a:g"]);
    expect(r.graph.actions).toHaveLength(1);
    const a = r.graph.actions[0]!;
    if (a.kind !== "run") throw new Error(`a ${a.kind} action`);
    expect(a.argv).toEqual(["/bin/bash", "-c", `${SHELL_SETUP}cp a/in.txt hb-out/a/out.txt && echo a/in.txt $X`]);
    expect(a.inputs).toEqual(["a/in.txt"]);
    expect(a.outputs).toEqual(["hb-out/a/out.txt"]);
    expect(r.graph.targets.map((t) => t.label)).toEqual(["//a:g"]);
    expect(r.graph.targets[0]!.deps).toEqual(["//a:in.txt"]);
    expect(r.inputs.files.map((f) => f.path)).toEqual(["a/BUILD.ts", "hb.config.ts"]);
  });

  it("reports a syntax error with file:line:column", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + "\ngenrule({ name: 'x', \n  outs: [\"o\"] cmd: 'x' });\n" });
    expect(e.code).toBe("BUILD_FILE_SYNTAX");
    expect(e.location).toEqual({ file: "a/BUILD.ts", line: 4, column: 15 });
    expect(e.message).toContain('Expected "}" but found "cmd"');
  });

  it("reports a runtime error at its line in the original TypeScript", async () => {
    const e = await analysisError({
      "a/BUILD.ts": GENRULE + "type T = { a: number };\nconst t: T = { a: 1 };\nthrow new Error(`bad ${t.a}`);\n",
    });
    expect(e.code).toBe("BUILD_FILE_ERROR");
    expect(e.message).toContain("Error: bad 1");
    expect(e.location).toMatchObject({ file: "a/BUILD.ts", line: 4 });
  });

  it.each([
    ["Date.now()", "const t = Date.now();"],
    ["new Date() without arguments", 'filegroup({ name: "x" + new Date().getTime() });'],
    ["Math.random()", "const r = Math.random();"],
  ])("refuses %s in BUILD.ts, naming the line", async (what, code) => {
    const e = await analysisError({ "a/BUILD.ts": `${GENRULE}\n${code}\n` });
    expect(e.code).toBe("FORBIDDEN_IN_BUILD_FILE");
    expect(e.message).toContain(what);
    expect(e.location).toMatchObject({ file: "a/BUILD.ts", line: 3 });
  });

  it("offers no process, require or fs", async () => {
    const e = await analysisError({ "a/BUILD.ts": "const p = (globalThis as any).process.env;\n" });
    expect(e.message).toMatch(/Cannot read properties of undefined/);
    const f = await analysisError({ "a/BUILD.ts": 'import { readFileSync } from "node:fs";\nreadFileSync("/etc/passwd");\n' });
    expect(f.code).toBe("BUILD_FILE_SYNTAX");
    expect(f.message).toContain("may import only relative files");
    expect(f.location).toMatchObject({ file: "a/BUILD.ts", line: 1 });
  });

  it("refuses a BUILD.ts that sets a global, so packages cannot pass state to each other", async () => {
    const e = await analysisError({ "a/BUILD.ts": "(globalThis as any).shared = 1;\n" });
    expect(e.code).toBe("FORBIDDEN_IN_BUILD_FILE");
    expect(e.message).toContain("sets the global 'shared'");
    // intrinsics are frozen: a write to one does nothing (BUILD.ts code is sloppy-mode CommonJS)
    const r = await analyze(
      { "a/BUILD.ts": GENRULE + '(Array.prototype as any).extra = 1;\nfilegroup({ name: "x" + ([] as any).extra });\n' },
      ["//a:all"],
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.graph.requested).toEqual(["//a:xundefined"]);
  });

  it("refuses an import of a name @hb/core does not export", async () => {
    const e = await analysisError({ "a/BUILD.ts": 'import { cc_library } from "@hb/core";\ncc_library({ name: "x" });\n' });
    expect(e.code).toBe("FORBIDDEN_IN_BUILD_FILE");
    expect(e.message).toContain("no export 'cc_library'");
    expect(e.location?.line).toBe(2);
  });

  it("refuses duplicate target names, naming both places", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + 'filegroup({ name: "x" });\nfilegroup({ name: "x" });\n' });
    expect(e.code).toBe("DUPLICATE_TARGET");
    expect(e.location).toMatchObject({ file: "a/BUILD.ts", line: 3 });
    expect(e.message).toContain("first at a/BUILD.ts:2");
  });

  it("refuses an unknown attribute with a suggestion", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + 'genrule({ name: "x", src: [], outs: ["o"], cmd: "true" });\n' });
    expect(e.code).toBe("BAD_ATTRIBUTE");
    expect(e.hint).toContain("did you mean 'srcs'?");
  });

  it("gives a target's run actions its exec_properties, and refuses ones that are not strings", async () => {
    const r = await analyze(
      {
        "a/BUILD.ts":
          GENRULE +
          'genrule({ name: "big", outs: ["b"], cmd: "touch $@", exec_properties: { pool: "big" } });\ngenrule({ name: "plain", outs: ["p"], cmd: "touch $@" });\n',
      },
      ["//..."],
    );
    if (!r.ok) throw new Error(r.error.message);
    const byOwner = new Map(r.graph.actions.map((a) => [a.owner, a]));
    expect(byOwner.get("//a:big")).toMatchObject({ execProperties: { pool: "big" } });
    // absent, not empty: a graph without properties is what it was before they existed
    expect(byOwner.get("//a:plain")).not.toHaveProperty("execProperties");
    const e = await analysisError({
      "a/BUILD.ts": GENRULE + 'genrule({ name: "x", outs: ["o"], cmd: "true", exec_properties: { cores: 8 } });\n',
    });
    expect(e.code).toBe("BAD_ATTRIBUTE");
    expect(e.message).toContain("attribute 'exec_properties' of //a:x must be");
    expect(e.location?.line).toBe(2);
  });

  it("refuses two targets declaring the same output", async () => {
    const e = await analysisError({
      "a/BUILD.ts":
        GENRULE + 'genrule({ name: "x", outs: ["o.txt"], cmd: "true" });\ngenrule({ name: "y", outs: ["o.txt"], cmd: "true" });\n',
    });
    expect(e.code).toBe("OUTPUT_CONFLICT");
    expect(e.message).toContain("//a:x");
    expect(e.location?.line).toBe(3);
  });

  it("refuses an output outside its package", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + 'genrule({ name: "x", outs: ["../b/o.txt"], cmd: "true" });\n' });
    expect(e.code).toBe("OUTPUT_OUTSIDE_PACKAGE");
  });

  it("prints a dependency cycle as a chain of labels", async () => {
    const e = await analysisError(
      {
        "a/BUILD.ts": GENRULE + 'filegroup({ name: "x", srcs: ["//b:y"] });\n',
        "b/BUILD.ts": GENRULE + 'filegroup({ name: "y", srcs: ["//c:z"] });\n',
        "c/BUILD.ts": GENRULE + 'filegroup({ name: "z", srcs: ["//a:x"] });\n',
      },
      ["//a:x"],
    );
    expect(e.code).toBe("CYCLE");
    expect(e.message).toContain("//a:x -> //b:y -> //c:z -> //a:x");
  });

  it("suggests the closest name for an unknown target", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + 'filegroup({ name: "bundle" });\n' }, ["//a:bundel"]);
    expect(e.code).toBe("NO_SUCH_TARGET");
    expect(e.hint).toContain("did you mean //a:bundle?");
    const dep = await analysisError({
      "a/BUILD.ts": GENRULE + 'filegroup({ name: "bundle" });\nfilegroup({ name: "user", srcs: [":bundel"] });\n',
    });
    expect(dep.code).toBe("NO_SUCH_TARGET");
    expect(dep.hint).toContain("did you mean ':bundle'?");
    expect(dep.location).toMatchObject({ file: "a/BUILD.ts", line: 3 });
    // from another package, the suggestion is a label that works there
    const other = await analysisError(
      {
        "a/BUILD.ts": GENRULE + 'filegroup({ name: "bundle" });\n',
        "b/BUILD.ts": GENRULE + 'filegroup({ name: "user", srcs: ["//a:bundel"] });\n',
      },
      ["//b:user"],
    );
    expect(other.hint).toContain("did you mean '//a:bundle'?");
  });

  it("refuses a generated file named like a source file of its package, as Bazel does", async () => {
    const e = await analysisError({
      "a/BUILD.ts":
        GENRULE +
        'genrule({ name: "gen", outs: ["data.txt"], cmd: "echo g > $@" });\ngenrule({ name: "use", srcs: ["data.txt"], outs: ["use.txt"], cmd: "cat $< > $@" });\n',
      "a/data.txt": "source\n",
    });
    expect(e.code).toBe("OUTPUT_CONFLICT");
    expect(e.message).toContain("generated file 'data.txt' of //a:gen conflicts with the source file a/data.txt");
    expect(e.location).toMatchObject({ file: "a/BUILD.ts", line: 2 });
    const own = await analysisError({ "a/BUILD.ts": GENRULE + 'genrule({ name: "g", outs: ["BUILD.ts"], cmd: "echo > $@" });\n' });
    expect(own.message).toContain("conflicts with the source file a/BUILD.ts");
  });

  it("names a missing package and who needs it", async () => {
    const e = await analysisError({ "a/BUILD.ts": GENRULE + 'filegroup({ name: "x", srcs: ["//nope:y"] });\n' });
    expect(e.code).toBe("NO_SUCH_PACKAGE");
    expect(e.message).toContain("needed by //a:x");
  });

  it("globs within the package, not into subpackages, with excludes", async () => {
    const r = await analyze(
      {
        "a/BUILD.ts": GENRULE + 'filegroup({ name: "all", srcs: glob(["**/*.ts"], { exclude: ["**/*.test.ts"] }) });\n',
        "a/x.ts": "",
        "a/x.test.ts": "",
        "a/deep/y.ts": "",
        "a/sub/BUILD.ts": GENRULE,
        "a/sub/z.ts": "",
      },
      ["//a:all"],
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.graph.targets.find((t) => t.label === "//a:all")!.files).toEqual(["a/BUILD.ts", "a/deep/y.ts", "a/x.ts"]);
    expect(r.inputs.listings).toEqual([
      { kind: "glob", base: "a", include: ["**/*.ts"], exclude: ["**/*.test.ts"], result: ["BUILD.ts", "deep/y.ts", "x.ts"] },
    ]);
    expect(r.inputs.dirs.map((d) => d.path)).toEqual(["a", "a/deep", "a/sub"]);
  });

  it("refuses a glob match that is a symlink leading outside the workspace", async () => {
    const root = makeWorkspace({ "a/BUILD.ts": GENRULE + 'filegroup({ name: "all", srcs: glob(["*.txt"]) });\n', "a/ok.txt": "" });
    const outside = tempDir();
    writeFiles(outside, { "secret.txt": "s" });
    symlinkSync(join(outside, "secret.txt"), join(root, "a/leak.txt"));
    const r = await analyzeAt(root, ["//a:all"]);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("SYMLINK_ESCAPE");
      expect(r.error.message).toContain("a/leak.txt");
    }
  });

  it("runs custom rules: declared files, actions, and providers passed to dependents", async () => {
    const defs = `import { rule, attr } from "@hb/core";
export const greeting = rule({
  kind: "greeting",
  attrs: { who: attr.string({ mandatory: true }) },
  impl(ctx) {
    const out = ctx.declareFile(ctx.name + ".txt");
    ctx.actions.write({ output: out, content: "hello " + ctx.attr.who });
    return { files: [out], greetingInfo: { who: ctx.attr.who } };
  },
});
export const shout = rule({
  kind: "shout",
  attrs: { src: attr.label({ mandatory: true }) },
  impl(ctx) {
    const out = ctx.declareFile("loud.txt");
    ctx.actions.run({ executable: "/usr/bin/tr", arguments: ["a-z", "A-Z"], inputs: ctx.files("src"), outputs: [out], mnemonic: "Shout" });
    return { files: [out], heard: ctx.attr.src!.providers.greetingInfo };
  },
});
export function greet(name: string) { greeting({ name, who: name }); }
`;
    const r = await analyze(
      { "defs.ts": defs, "a/BUILD.ts": 'import { greet, shout } from "../defs";\ngreet("world");\nshout({ name: "s", src: ":world" });\n' },
      ["//a:s"],
    );
    if (!r.ok) throw new Error(r.error.message);
    const byLabel = new Map(r.graph.targets.map((t) => [t.label, t]));
    expect(byLabel.get("//a:world")).toMatchObject({
      kind: "greeting",
      files: ["hb-out/a/world.txt"],
      providers: { greetingInfo: { who: "world" } },
    });
    expect(byLabel.get("//a:world")!.location).toMatchObject({ file: "a/BUILD.ts", line: 2 });
    expect(byLabel.get("//a:s")!.providers).toEqual({ heard: { who: "world" } });
    expect(r.graph.actions.map((a) => [a.kind, a.mnemonic, a.outputs[0]])).toEqual([
      ["write", "Write", "hb-out/a/world.txt"],
      ["run", "Shout", "hb-out/a/loud.txt"],
    ]);
    expect(r.inputs.files.map((f) => f.path)).toContain("defs.ts");
  });

  it("tells a rule the type of the package.json nearest its package, up to the root, and records what it looked at (issue 20)", async () => {
    // a rule naming its output by the type, as esbuild's extension follows it
    const typed =
      'import { rule } from "@hb/core";\n' +
      'const typed = rule({ kind: "typed", attrs: {}, impl(ctx) {\n' +
      '  ctx.actions.write({ output: ctx.declareFile(`${ctx.packageType}.txt`), content: "" });\n' +
      "} });\n" +
      'typed({ name: "t" });\n';
    const r = await analyze(
      {
        "package.json": '{ "name": "root", "type": "module" }',
        "a/BUILD.ts": typed,
        "a/b/BUILD.ts": typed,
        "a/b/package.json": '{ "name": "b" }',
        "c/BUILD.ts": typed,
        "c/package.json": '{ "type": "commonjs" }',
      },
      ["//..."],
    );
    if (!r.ok) throw new Error(r.error.message);
    expect(r.graph.targets.map((t) => [t.label, t.files])).toEqual([
      ["//a/b:t", ["hb-out/a/b/commonjs.txt"]],
      ["//a:t", ["hb-out/a/module.txt"]],
      ["//c:t", ["hb-out/c/commonjs.txt"]],
    ]);
    // the files read are analysis inputs; a package.json appearing nearer would change the answer
    expect(r.inputs.files.map((f) => f.path)).toEqual(expect.arrayContaining(["package.json", "a/b/package.json", "c/package.json"]));
    expect(r.inputs.absent).toContain("a/package.json");
    // without any package.json, node reads .js as CommonJS
    const none = await analyze({ "a/BUILD.ts": typed }, ["//a:t"]);
    if (!none.ok) throw new Error(none.error.message);
    expect(none.graph.targets[0]!.files).toEqual(["hb-out/a/commonjs.txt"]);
    expect(none.inputs.absent).toEqual(expect.arrayContaining(["a/package.json", "package.json"]));
  });

  it("leaves targets tagged manual out of //...", async () => {
    const r = await analyze({ "a/BUILD.ts": GENRULE + 'filegroup({ name: "x" });\nfilegroup({ name: "m", tags: ["manual"] });\n' }, [
      "//...",
    ]);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.graph.requested).toEqual(["//a:x"]);
  });

  it("checks hb.config.ts", async () => {
    const e = await analysisError({ "a/BUILD.ts": "" }, ["//..."], "export default { sandbx: 'strict' };\n");
    expect(e.code).toBe("BAD_CONFIG");
    expect(e.hint).toContain("did you mean 'sandbox'?");
  });

  it("names the key inside remoteCache that is wrong, and what it must be", async () => {
    const config = (remote: string) => `export default { remoteCache: ${remote} };\n`;
    const keyList = await analysisError(
      { "a/BUILD.ts": "" },
      ["//..."],
      config("{ url: 'http://127.0.0.1:9092', trustedKeys: ['keys/ci.pem'] }"),
    );
    expect(keyList.message).toMatch(
      /setting 'remoteCache\.trustedKeys' in hb\.config\.ts must be an object from instance name .* \{ main: \["keys\/ci\.pem"\] \}/,
    );
    const typo = await analysisError({ "a/BUILD.ts": "" }, ["//..."], config("{ url: 'http://127.0.0.1:9092', readInstance: ['main'] }"));
    expect(typo.message).toContain("unknown setting 'remoteCache.readInstance'");
    expect(typo.hint).toContain("did you mean 'remoteCache.readInstances'?");
    const noUrl = await analysisError({ "a/BUILD.ts": "" }, ["//..."], config("{ instance: 'main' }"));
    expect(noUrl.message).toContain("setting 'remoteCache.url' in hb.config.ts is required");
  });
});

describe("the loading host", () => {
  it("serves only what a label can name: no '..', no ignored or version-control directory, no file outside the listed names", async () => {
    const root = makeWorkspace({ "a/BUILD.ts": GENRULE, "a/secret.env": "k=v\n" });
    const host = new LoadingHost(root, [join(root, "a/secret.env")]);
    await host.setIgnore([]);
    for (const pkg of ["..", "a/../..", "/etc", ".git", "a/.git", "node_modules/x", "a//b"]) {
      await expect(host.loadPackages([pkg]), pkg).rejects.toThrow(/not a package path|never a package|is ignored/);
    }
    await expect(host.findPackages("../..")).rejects.toThrow(/not a package path/);
    const [a] = await host.loadPackages(["a"]);
    if (!a || "missing" in a) throw new Error("a not loaded");
    // a hidden file (a signing key in the workspace) is not even named
    expect(a.snapshot.dirs.a!.map(([name]) => name)).toEqual(["BUILD.ts"]);
  });
});
