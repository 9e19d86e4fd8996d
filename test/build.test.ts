import { execa, execaSync } from "execa";
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../packages/core/src/base/database";
import { HB, REPO, executedLabels, hb, makeWorkspace, summary, tempDir } from "./helpers";

const G = 'import { genrule, filegroup, glob } from "@hb/core";\n';

/** a -> b -> c (each reads the one before), d apart */
const CHAIN = {
  "a/BUILD.ts": G + 'genrule({ name: "a", srcs: ["a.txt"], outs: ["a.out"], cmd: "cat $< > $@" });\n',
  "a/a.txt": "one\n",
  "b/BUILD.ts": G + 'genrule({ name: "b", srcs: ["//a"], outs: ["b.out"], cmd: "tr a-z A-Z < $< > $@" });\n',
  "c/BUILD.ts": G + 'genrule({ name: "c", srcs: ["//b"], outs: ["c.out"], cmd: "(cat $<; echo c) > $@" });\n',
  "d/BUILD.ts": G + 'genrule({ name: "d", srcs: ["d.txt"], outs: ["d.out"], cmd: "cat $< > $@" });\n',
  "d/d.txt": "dee\n",
};

describe("hb build: incremental", () => {
  it("runs nothing on a no-op rebuild", async () => {
    const ws = makeWorkspace(CHAIN);
    const first = await hb(ws, ["build", "//..."]);
    expect(summary(first)).toEqual({ actions: 4, executed: 4, cached: 0, failed: 0 });
    const second = await hb(ws, ["build", "//..."]);
    expect(summary(second)).toEqual({ actions: 4, executed: 0, cached: 4, failed: 0 });
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("ONE\nc\n");
  });

  it("takes the no-op fast path only when nothing read or written changed", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    // let the files age past the racy-clean margin, so the next builds may trust their stats
    const old = (Date.now() - 5000) / 1000;
    for (const f of ["a/a.txt", "d/d.txt"]) utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//..."]);
    expect(summary(await hb(ws, ["build", "//...", "--report", "r.json"]))).toMatchObject({ executed: 0, cached: 4 });
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).upToDate).toBe(true);
    // an output edited in hb-out/ (through its hardlink: the cache blob is damaged too)
    chmodSync(join(ws, "hb-out/d/d.out"), 0o644);
    writeFileSync(join(ws, "hb-out/d/d.out"), "tampered\n");
    const repaired = await hb(ws, ["build", "//...", "--report", "r.json"]);
    expect(executedLabels(repaired)).toEqual(["//d:d"]);
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).upToDate).toBeUndefined();
    expect(readFileSync(join(ws, "hb-out/d/d.out"), "utf8")).toBe("dee\n");
    // a source edited in place with the same size and the old mtime: its ctime still moves
    const st = statSync(join(ws, "a/a.txt"));
    writeFileSync(join(ws, "a/a.txt"), "two\n");
    utimesSync(join(ws, "a/a.txt"), st.atime, st.mtime);
    const edited = await hb(ws, ["build", "//..."]);
    expect(executedLabels(edited)).toEqual(["//a:a", "//b:b", "//c:c"]);
    // another sandbox mode is another request
    expect(summary(await hb(ws, ["build", "//...", "--sandbox=none"])).executed).toBe(4);
  });

  it.each([["default"], ["none"]])("takes the no-op fast path right after a build that ran actions (--sandbox=%s)", async (sandbox) => {
    // the snapshot holds the stats the build read, taken as it read them: staging must not move them
    const ws = makeWorkspace(CHAIN);
    const old = (Date.now() - 5000) / 1000;
    for (const f of ["a/a.txt", "d/d.txt", ...["a", "b", "c", "d"].map((p) => `${p}/BUILD.ts`), "hb.config.ts"])
      utimesSync(join(ws, f), old, old);
    expect(summary(await hb(ws, ["build", "//...", `--sandbox=${sandbox}`])).executed).toBe(4);
    await hb(ws, ["build", "//...", `--sandbox=${sandbox}`, "--report", "r.json"]);
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8"))).toMatchObject({ executed: 0, upToDate: true });
  });

  it("keys again only what an edit reaches: the rest stands as the last clean build left it, with the keys a full build finds", async () => {
    const ws = makeWorkspace(CHAIN);
    const old = (Date.now() - 60_000) / 1000;
    const age = (...files: string[]) => files.forEach((f) => utimesSync(join(ws, f), old, old));
    age("a/a.txt", "d/d.txt", ...["a", "b", "c", "d"].map((p) => `${p}/BUILD.ts`), "hb.config.ts");
    const report = () => JSON.parse(readFileSync(join(ws, "r.json"), "utf8"));
    const keys = () => Object.fromEntries((report().actionList as { label: string; key: string }[]).map((a) => [a.label, a.key]));
    await hb(ws, ["build", "//...", "--report", "r.json"]);
    const full = keys();

    writeFileSync(join(ws, "d/d.txt"), "DEE\n");
    age("d/d.txt");
    const edited = await hb(ws, ["build", "//...", "--report", "r.json"]);
    expect(executedLabels(edited)).toEqual(["//d:d"]);
    expect(summary(edited)).toEqual({ actions: 4, executed: 1, cached: 3, failed: 0 });
    const after = keys();
    expect({ ...after, "//d:d": undefined }).toEqual({ ...full, "//d:d": undefined });
    expect(after["//d:d"]).not.toBe(full["//d:d"]);
    expect(readFileSync(join(ws, "hb-out/d/d.out"), "utf8")).toBe("DEE\n");
    // a full keying of the same tree (another checkout, no snapshot) finds the same keys
    const twin = makeWorkspace({ ...CHAIN, "d/d.txt": "DEE\n" });
    await hb(twin, ["build", "//...", "--report", "r.json"]);
    expect(
      JSON.parse(readFileSync(join(twin, "r.json"), "utf8"))
        .actionList.map((a: { key: string }) => a.key)
        .sort(),
    ).toEqual(Object.values(after).sort());

    // what reads a re-run action's outputs is keyed again: early cutoff still stops at equal bytes
    writeFileSync(join(ws, "a/a.txt"), "One\n");
    age("a/a.txt");
    const cutoff = await hb(ws, ["build", "//..."]);
    expect(executedLabels(cutoff)).toEqual(["//a:a", "//b:b"]);
    expect(summary(cutoff)).toMatchObject({ executed: 2, cached: 2 });

    // an output gone from hb-out/ is put back from the cache; everything else stands
    rmSync(join(ws, "hb-out/c/c.out"), { force: true });
    const restored = await hb(ws, ["build", "//..."]);
    expect(summary(restored)).toMatchObject({ executed: 0, cached: 4 });
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("ONE\nc\n");
  });

  it("puts back from the CAS what is gone from hb-out/; an output whose blob is lost too runs again", async () => {
    const ws = makeWorkspace(CHAIN);
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["a/a.txt", "d/d.txt", ...["a", "b", "c", "d"].map((p) => `${p}/BUILD.ts`), "hb.config.ts"])
      utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//..."]);
    rmSync(join(ws, "hb-out"), { recursive: true });
    const restored = await hb(ws, ["build", "//...", "--report", "r.json"]);
    expect(summary(restored)).toEqual({ actions: 4, executed: 0, cached: 4, failed: 0 });
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("ONE\nc\n");
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).actionList.map((a: { status: string }) => a.status)).toEqual([
      "local",
      "local",
      "local",
      "local",
    ]);
    const blob = createHash("sha256").update("one\n").digest("hex");
    rmSync(join(ws, "hb-out/a/a.out"));
    rmSync(join(ws, ".hb/cas", blob.slice(0, 2), blob));
    const rerun = await hb(ws, ["build", "//..."]);
    expect(rerun.exitCode, rerun.output).toBe(0);
    expect(executedLabels(rerun)).toEqual(["//a:a"]);
    expect(summary(rerun)).toEqual({ actions: 4, executed: 1, cached: 3, failed: 0 });
    expect(readFileSync(join(ws, "hb-out/a/a.out"), "utf8")).toBe("one\n");
  });

  it("runs again an action, standing or cached, whose outputs an action to run needs and the CAS lost", async () => {
    const ws = makeWorkspace({
      "x/BUILD.ts": G + 'genrule({ name: "x", srcs: ["x.txt"], outs: ["x.out"], cmd: "cat $< > $@" });\n',
      "x/x.txt": "ex\n",
      "y/BUILD.ts": G + 'genrule({ name: "y", srcs: ["//x", "y.txt"], outs: ["y.out"], cmd: "cat $(SRCS) > $@" });\n',
      "y/y.txt": "why\n",
    });
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["x/x.txt", "y/y.txt", "x/BUILD.ts", "y/BUILD.ts", "hb.config.ts"]) utimesSync(join(ws, f), old, old);
    // an output base on another file system: hb-out/ holds copies, so losing a blob moves no output's ctime
    const base = mkdtempSync("/dev/shm/hb-test-base-");
    try {
      const build = () => hb(ws, ["build", "//...", "--output-base", base]);
      await build();
      const blob = createHash("sha256").update("ex\n").digest("hex");
      rmSync(join(base, "cas", blob.slice(0, 2), blob));
      writeFileSync(join(ws, "y/y.txt"), "WHY\n");
      utimesSync(join(ws, "y/y.txt"), old, old);
      const r = await build();
      expect(r.exitCode, r.output).toBe(0);
      expect(executedLabels(r)).toEqual(["//x:x", "//y:y"]);
      expect(readFileSync(join(ws, "hb-out/y/y.out"), "utf8")).toBe("ex\nWHY\n");
      // a request with no snapshot yet keys everything: the cached //x:x, in place in hb-out/, is a miss
      rmSync(join(base, "cas", blob.slice(0, 2), blob));
      writeFileSync(join(ws, "y/y.txt"), "Why\n");
      const full = await hb(ws, ["build", "//y:y", "--output-base", base]);
      expect(full.exitCode, full.output).toBe(0);
      expect(executedLabels(full)).toEqual(["//x:x", "//y:y"]);
      expect(readFileSync(join(ws, "hb-out/y/y.out"), "utf8")).toBe("ex\nWhy\n");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("rebuilds, not crashes, when a file stands where a directory of the last build was (hb-out/ or sources)", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["d/in.txt"], outs: ["sub/o.txt"], cmd: "cat $< > $@" });\n',
      "p/d/in.txt": "in\n",
    });
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["p/d/in.txt", "p/BUILD.ts", "hb.config.ts"]) utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//p:x"]);
    rmSync(join(ws, "hb-out/p/sub"), { recursive: true, force: true });
    writeFileSync(join(ws, "hb-out/p/sub"), "junk\n");
    const repaired = await hb(ws, ["build", "//p:x"]);
    expect(repaired.exitCode).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/sub/o.txt"), "utf8")).toBe("in\n");
    rmSync(join(ws, "p/d"), { recursive: true });
    writeFileSync(join(ws, "p/d"), "not a directory\n");
    const missing = await hb(ws, ["build", "//p:x"]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain("p/d/in.txt");
    expect(missing.stderr).not.toMatch(/ENOTDIR|internal error/i);
  });

  it("sees a BUILD.ts rewritten with its old size and mtime, and a file added to a glob's directory whose mtime is put back", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: glob(["g/*.txt"]), outs: ["o.txt"], cmd: "(echo aaa; cat $(SRCS)) > $@" });\n',
      "p/g/1.txt": "one\n",
    });
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["p/BUILD.ts", "p/g/1.txt", "p/g", "p", "hb.config.ts"]) utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("aaa\none\n");
    writeFileSync(join(ws, "p/BUILD.ts"), readFileSync(join(ws, "p/BUILD.ts"), "utf8").replace("echo aaa", "echo bbb"));
    utimesSync(join(ws, "p/BUILD.ts"), old, old);
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("bbb\none\n");
    writeFileSync(join(ws, "p/g/2.txt"), "two\n");
    utimesSync(join(ws, "p/g/2.txt"), old, old);
    utimesSync(join(ws, "p/g"), old, old);
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("bbb\none\ntwo\n");
  });

  it("takes no no-op fast path over a file added to, or a symlink replaced in, a directory toolchain", async () => {
    const ws = makeWorkspace({
      "t/BUILD.ts": 'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "lib", path: "vendor/lib" });\n',
      "p/BUILD.ts":
        G + 'genrule({ name: "x", tools: ["//t:lib"], outs: ["x.out"], cmd: "(cd vendor/lib && find . | sort && cat link) > $@" });\n',
      "vendor/lib/a.txt": "a\n",
      "vendor/lib/b.txt": "b\n",
    });
    symlinkSync("a.txt", join(ws, "vendor/lib/link"));
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["t/BUILD.ts", "p/BUILD.ts", "hb.config.ts", "vendor/lib/a.txt", "vendor/lib/b.txt", "vendor/lib"])
      utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//p:x"]);
    await hb(ws, ["build", "//p:x", "--report", "r.json"]);
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).upToDate).toBe(true);
    writeFileSync(join(ws, "vendor/lib/c.txt"), "c\n");
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/x.out"), "utf8")).toContain("./c.txt");
    rmSync(join(ws, "vendor/lib/link"));
    symlinkSync("b.txt", join(ws, "vendor/lib/link"));
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/x.out"), "utf8")).toMatch(/b\n$/);
  });

  it("repairs an output written through its hardlink with its size and mtime kept (cp -p as root), and one chmod'ed", async () => {
    const ws = makeWorkspace(CHAIN);
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["a/a.txt", "d/d.txt", ...["a", "b", "c", "d"].map((p) => `${p}/BUILD.ts`), "hb.config.ts"])
      utimesSync(join(ws, f), old, old);
    await hb(ws, ["build", "//..."]);
    const out = join(ws, "hb-out/d/d.out");
    const before = statSync(out);
    chmodSync(out, 0o644);
    writeFileSync(out, "DEE\n");
    chmodSync(out, 0o444);
    utimesSync(out, before.atime, before.mtime);
    const repaired = await hb(ws, ["build", "//..."]);
    expect(executedLabels(repaired)).toEqual(["//d:d"]);
    expect(readFileSync(out, "utf8")).toBe("dee\n");
    chmodSync(join(ws, "hb-out/a/a.out"), 0o755);
    await hb(ws, ["build", "//..."]);
    expect(statSync(join(ws, "hb-out/a/a.out")).mode & 0o777).toBe(0o444);
  });

  it("keeps two checkouts sharing one output base apart on the no-op fast path", async () => {
    const w1 = makeWorkspace(CHAIN);
    const w2 = makeWorkspace(CHAIN);
    const base = join(tempDir(), "shared-base");
    const old = (Date.now() - 60_000) / 1000;
    for (const ws of [w1, w2])
      for (const f of ["a/a.txt", "d/d.txt", ...["a", "b", "c", "d"].map((p) => `${p}/BUILD.ts`), "hb.config.ts"])
        utimesSync(join(ws, f), old, old);
    await hb(w1, ["build", "//...", "--output-base", base]);
    await hb(w2, ["build", "//...", "--output-base", base]);
    await hb(w2, ["build", "//...", "--output-base", base]);
    writeFileSync(join(w1, "a/a.txt"), "two\n");
    const r = await hb(w1, ["build", "//...", "--output-base", base]);
    expect(executedLabels(r)).toEqual(["//a:a", "//b:b", "//c:c"]);
    expect(readFileSync(join(w1, "hb-out/c/c.out"), "utf8")).toBe("TWO\nc\n");
  });

  it("shows a re-run nothing its last run left in its output directory", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G + 'genrule({ name: "x", srcs: ["in.txt"], outs: ["o.txt"], cmd: "mkdir $(RULEDIR)/work && (ls $(RULEDIR); cat $<) > $@" });\n',
      "p/in.txt": "one\n",
    });
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    writeFileSync(join(ws, "p/in.txt"), "two\n");
    const again = await hb(ws, ["build", "//p:x"]);
    expect(again.exitCode).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("o.txt\nwork\ntwo\n");
  });

  it("keeps in a tree output only what its last run made", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        'import { attr, rule } from "@hb/core";\n' +
        'const tree = rule({ kind: "tree", attrs: { names: attr.stringList() }, impl(ctx) {\n' +
        '  const out = ctx.declareDirectory("t_dir");\n' +
        '  const made = ctx.attr.names.map((n) => `echo ${n} > ${out.path}/${n}.txt`).join(" && ");\n' +
        '  ctx.actions.run({ executable: "/bin/bash", arguments: ["-c", `mkdir -p ${out.path} && ${made}`], outputs: [out] });\n' +
        "  return { files: [out] };\n} });\n" +
        'tree({ name: "t", names: ["a", "b"] });\n',
    });
    await hb(ws, ["build", "//p:t"]);
    expect(readdirSync(join(ws, "hb-out/p/t_dir")).sort()).toEqual(["a.txt", "b.txt"]);
    writeFileSync(join(ws, "p/BUILD.ts"), readFileSync(join(ws, "p/BUILD.ts"), "utf8").replace('["a", "b"]', '["a"]'));
    await hb(ws, ["build", "//p:t"]);
    expect(readdirSync(join(ws, "hb-out/p/t_dir"))).toEqual(["a.txt"]);
    // a symlink put where the tree goes is replaced; what it points to is left alone
    const elsewhere = tempDir();
    writeFileSync(join(elsewhere, "precious.txt"), "keep\n");
    rmSync(join(ws, "hb-out/p/t_dir"), { recursive: true, force: true });
    symlinkSync(elsewhere, join(ws, "hb-out/p/t_dir"));
    await hb(ws, ["build", "//p:t"]);
    expect(readdirSync(elsewhere)).toEqual(["precious.txt"]);
    expect(lstatSync(join(ws, "hb-out/p/t_dir")).isDirectory()).toBe(true);
    expect(readdirSync(join(ws, "hb-out/p/t_dir"))).toEqual(["a.txt"]);
  });

  it("sees a BUILD.ts import resolve elsewhere: a file added ahead of it, a symlink retargeted; and ignores tsconfig.json", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'import { word } from "./defs";\ngenrule({ name: "x", outs: ["o.txt"], cmd: `echo ${word} > $@` });\n',
      "p/defs.js": 'export const word = "js";\n',
      "p/v1.ts": 'export const word = "v1";\n',
      "p/v2.ts": 'export const word = "v2";\n',
    });
    const out = () => readFileSync(join(ws, "hb-out/p/o.txt"), "utf8").trim();
    await hb(ws, ["build", "//p:x"]);
    expect(out()).toBe("js");
    symlinkSync("v1.ts", join(ws, "p/defs.ts"));
    await hb(ws, ["build", "//p:x"]);
    expect(out()).toBe("v1");
    rmSync(join(ws, "p/defs.ts"));
    symlinkSync("v2.ts", join(ws, "p/defs.ts"));
    await hb(ws, ["build", "//p:x"]);
    expect(out()).toBe("v2");
    // a class field's semantics may not depend on a tsconfig.json the analysis does not watch
    writeFileSync(join(ws, "tsconfig.json"), '{ "compilerOptions": { "useDefineForClassFields": false } }\n');
    writeFileSync(
      join(ws, "p/BUILD.ts"),
      G +
        'class B { set f(_v: number) {} }\nclass C extends B { f = 1; }\ngenrule({ name: "x", outs: ["o.txt"], cmd: `echo ${Object.keys(new C()).length} > $@` });\n',
    );
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    expect(out()).toBe("1");
  });

  it("loads a BUILD.ts that is a symlink inside the workspace, sees it retargeted, and refuses one leading outside", async () => {
    const ws = makeWorkspace({
      "shared/one.ts": G + 'genrule({ name: "x", outs: ["o.txt"], cmd: "echo one > $@" });\n',
      "shared/two.ts": G + 'genrule({ name: "x", outs: ["o.txt"], cmd: "echo two > $@" });\n',
    });
    mkdirSync(join(ws, "p"));
    symlinkSync("../shared/one.ts", join(ws, "p/BUILD.ts"));
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("one\n");
    rmSync(join(ws, "p/BUILD.ts"));
    symlinkSync("../shared/two.ts", join(ws, "p/BUILD.ts"));
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("two\n");
    const outside = join(tempDir(), "BUILD.ts");
    writeFileSync(outside, G + 'genrule({ name: "x", outs: ["o.txt"], cmd: "echo out > $@" });\n');
    rmSync(join(ws, "p/BUILD.ts"));
    symlinkSync(outside, join(ws, "p/BUILD.ts"));
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(2);
    // hb reads BUILD.ts files for the evaluator, sandboxed or not: the same refusal, naming where it leads
    expect(r.stderr).toContain(`p/BUILD.ts is a symlink leading outside the workspace, to ${outside}`);
    const unsandboxed = await hb(ws, ["build", "//p:x", "--sandbox=none"]);
    expect(unsandboxed.exitCode).toBe(2);
    expect(unsandboxed.stderr).toContain(`p/BUILD.ts is a symlink leading outside the workspace, to ${outside}`);
  });

  it("takes an output of an earlier run out of hb-out/ when its action fails now", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "x", srcs: ["in.txt"], outs: ["o.txt"], cmd: "grep -q ok $< && cat $< > $@" });\n' +
        'genrule({ name: "y", srcs: [":x"], outs: ["y.txt"], cmd: "cat $< > $@" });\n',
      "p/in.txt": "ok\n",
    });
    await hb(ws, ["build", "//p:y"]);
    expect(existsSync(join(ws, "hb-out/p/o.txt"))).toBe(true);
    writeFileSync(join(ws, "p/in.txt"), "bad\n");
    expect((await hb(ws, ["build", "//p:y"])).exitCode).toBe(1);
    expect(existsSync(join(ws, "hb-out/p/o.txt"))).toBe(false);
    // and what depended on it, which could not run
    expect(existsSync(join(ws, "hb-out/p/y.txt"))).toBe(false);
  });

  it("refuses an output below a subpackage, whichever targets are built, and sees the subpackage appear", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["sub/x.out"], cmd: "echo p > $@" });\n',
      "p/sub/keep.txt": "\n",
    });
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    writeFileSync(join(ws, "p/sub/BUILD.ts"), G + 'genrule({ name: "x", outs: ["x.out"], cmd: "echo sub > $@" });\n');
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("output 'sub/x.out' of //p:x lies in package //p/sub");
    // an output that is the subpackage's directory itself
    writeFileSync(join(ws, "p/BUILD.ts"), G + 'genrule({ name: "x", outs: ["sub"], cmd: "echo p > $@" });\n');
    const same = await hb(ws, ["build", "//p:x"]);
    expect(same.exitCode).toBe(2);
    expect(same.stderr).toContain("output 'sub' of //p:x lies in package //p/sub");
  });

  it.runIf(existsSync("/dev/shm"))("dates outputs copied to hb-out/ from an output base on another filesystem as their blobs", async () => {
    const ws = makeWorkspace(CHAIN);
    const base = mkdtempSync("/dev/shm/hb-test-base-");
    try {
      expect((await hb(ws, ["build", "//d", "--output-base", base])).exitCode).toBe(0);
      const st = statSync(join(ws, "hb-out/d/d.out"));
      expect(st.mtimeMs).toBe(315532800_000);
      expect(st.mode & 0o777).toBe(0o444);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it("warns about a source modified in the future", async () => {
    const ws = makeWorkspace(CHAIN);
    const tomorrow = (Date.now() + 86_400_000) / 1000;
    utimesSync(join(ws, "d/d.txt"), tomorrow, tomorrow);
    const r = await hb(ws, ["build", "//d", "--report", "r.json"]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("d/d.txt: modified in the future");
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).warnings).toEqual([{ code: "FUTURE_MTIME", paths: ["d/d.txt"] }]);
  });

  it("re-runs exactly the dependent chain after a one-file change", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    writeFileSync(join(ws, "a/a.txt"), "two\n");
    const r = await hb(ws, ["build", "//..."]);
    expect(executedLabels(r)).toEqual(["//a:a", "//b:b", "//c:c"]);
    expect(summary(r)).toMatchObject({ executed: 3, cached: 1 });
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("TWO\nc\n");
  });

  it("stops where an output did not change (early cutoff)", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    // same letters, other case: a's output changes, b's (upper-cased) does not
    writeFileSync(join(ws, "a/a.txt"), "ONE\n");
    const r = await hb(ws, ["build", "//..."]);
    expect(executedLabels(r)).toEqual(["//a:a", "//b:b"]);
  });

  it("never misses a same-size edit that keeps the file's mtime", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//d"]);
    const before = statSync(join(ws, "d/d.txt"));
    writeFileSync(join(ws, "d/d.txt"), "DEE\n");
    utimesSync(join(ws, "d/d.txt"), before.atime, before.mtime);
    const r = await hb(ws, ["build", "//d"]);
    expect(summary(r).executed).toBe(1);
    expect(readFileSync(join(ws, "hb-out/d/d.out"), "utf8")).toBe("DEE\n");
  });

  it("notices a new file matched by a glob, and re-analyzes", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'filegroup({ name: "txt", srcs: glob(["*.txt"]) });\ngenrule({ name: "cat", srcs: [":txt"], outs: ["all"], cmd: "cat $(SRCS) > $@" });\n',
      "p/1.txt": "1\n",
    });
    await hb(ws, ["build", "//p:cat"]);
    writeFileSync(join(ws, "p/2.txt"), "2\n");
    const r = await hb(ws, ["build", "//p:cat"]);
    expect(summary(r).executed).toBe(1);
    expect(readFileSync(join(ws, "hb-out/p/all"), "utf8")).toBe("1\n2\n");
  });

  it("notices a file matched by a glob in a directory made after the analysis", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "cat", srcs: glob(["**/*.txt"]), outs: ["all"], cmd: "cat $(SRCS) > $@" });\n',
      "p/1.txt": "1\n",
    });
    await hb(ws, ["build", "//p:cat"]);
    mkdirSync(join(ws, "p/sub"));
    // dated in the past, so that no racy-clean re-check covers for what the records miss
    const past = (Date.now() - 60_000) / 1000;
    for (const d of ["p", "p/sub"]) utimesSync(join(ws, d), past, past);
    expect(summary(await hb(ws, ["build", "//p:cat"])).executed).toBe(0);
    writeFileSync(join(ws, "p/sub/2.txt"), "2\n");
    const r = await hb(ws, ["build", "//p:cat"]);
    expect(summary(r).executed).toBe(1);
    expect(readFileSync(join(ws, "hb-out/p/all"), "utf8")).toBe("1\n2\n");
  });

  it("restores outputs from the cache after hb-out/ is deleted", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    await hb(ws, ["clean"]);
    expect(existsSync(join(ws, "hb-out"))).toBe(false);
    const r = await hb(ws, ["build", "//..."]);
    expect(summary(r)).toMatchObject({ executed: 0, cached: 4 });
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("ONE\nc\n");
    expect(statSync(join(ws, "hb-out/c/c.out")).mode & 0o222).toBe(0);
    expect(statSync(join(ws, "hb-out/c/c.out")).mtimeMs).toBe(315532800 * 1000);
  });

  it("repairs a CAS blob corrupted through a hardlink in hb-out/: reported, rebuilt", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    const out = join(ws, "hb-out/b/b.out");
    chmodSync(out, 0o644);
    appendFileSync(out, "corrupted\n");
    const r = await hb(ws, ["build", "//..."]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toMatch(/WARNING: cache: CAS blob [0-9a-f]{64} no longer matches its digest/);
    expect(executedLabels(r)).toEqual(["//b:b"]);
    expect(readFileSync(out, "utf8")).toBe("ONE\n");
    expect(summary(await hb(ws, ["build", "//..."])).executed).toBe(0);
  });

  it("repairs a CAS blob corrupted on disk", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    await hb(ws, ["clean"]);
    const casDir = join(ws, ".hb/cas");
    const digest = (await import("../packages/core/src/base/digest")).sha256Hex("ONE\nc\n");
    const blob = join(casDir, digest.slice(0, 2), digest);
    chmodSync(blob, 0o644);
    writeFileSync(blob, "ONE\nX\n");
    const r = await hb(ws, ["build", "//..."]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain("cache: CAS blob");
    expect(executedLabels(r)).toEqual(["//c:c"]);
    expect(readFileSync(join(ws, "hb-out/c/c.out"), "utf8")).toBe("ONE\nc\n");
  });
});

describe("hb build: failures", () => {
  it("prints the failing action's label, command and stderr, exit 1, and skips its dependents", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "bad", outs: ["bad.txt"], cmd: "echo about to fail >&2; exit 3" });\n' +
        'genrule({ name: "after", srcs: [":bad"], outs: ["after.txt"], cmd: "cp $< $@" });\n' +
        'genrule({ name: "fine", outs: ["fine.txt"], cmd: "sleep 0.2; echo ok > $@" });\n',
    });
    const r = await hb(ws, ["build", "//p:after", "//p:fine", "--jobs", "1", "--report", "r.json"]);
    expect(r.exitCode).toBe(1);
    // the failure as data, for CI and dashboards: no text to scrape
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).failures).toEqual([
      {
        code: "ACTION_FAILED",
        label: "//p:bad",
        mnemonic: "Genrule",
        command: "echo about to fail >&2; exit 3",
        exitCode: 3,
        signal: null,
        stderrTail: "about to fail\n",
        stdoutTail: "",
        sandboxMissingFile: false,
        message: "//p:bad: Genrule exited with code 3",
      },
    ]);
    expect(r.stderr).toContain("ERROR: //p:bad: Genrule exited with code 3");
    expect(r.stderr).toContain("command: echo about to fail >&2; exit 3");
    expect(r.stderr).toContain("| about to fail");
    expect(existsSync(join(ws, "hb-out/p/after.txt"))).toBe(false);

    const k = await hb(ws, ["build", "//p:after", "//p:fine", "--keep-going"]);
    expect(k.exitCode).toBe(1);
    expect(readFileSync(join(ws, "hb-out/p/fine.txt"), "utf8")).toBe("ok\n");
    expect(k.stderr).toContain("1 not run");
  });

  // root ignores permission bits; an immutable directory (chattr +i) stops root too
  const chattr = (flag: string, path: string) => execa("chattr", [flag, path], { reject: false });
  const immutableWorks = (() => {
    const d = tempDir();
    const probe = execaSync("chattr", ["+i", d], { reject: false });
    execaSync("chattr", ["-i", d], { reject: false });
    return probe.exitCode === 0;
  })();
  it.runIf(immutableWorks)(
    "fails, exit 1, when an output cannot be put under hb-out/: the path and the reason in the summary and --report",
    async () => {
      const ws = makeWorkspace({
        "a/BUILD.ts": G + 'genrule({ name: "g", srcs: ["in.txt"], outs: ["out.txt"], cmd: "cat $(SRCS) > $@" });\n',
        "a/in.txt": "one\n",
      });
      expect((await hb(ws, ["build", "//a:g"])).exitCode).toBe(0);
      writeFileSync(join(ws, "a/in.txt"), "two\n");
      await chattr("+i", join(ws, "hb-out/a"));
      try {
        // executed: the output is put in place after the action, in the background
        const r = await hb(ws, ["build", "//a:g", "--report", "r.json"]);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toContain(
          "ERROR: //a:g: hb-out/a/out.txt: could not put it in place (EPERM: operation not permitted); it may still hold an older build's file",
        );
        expect(r.stderr).toContain("chattr -i");
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(summary(r)).toMatchObject({ executed: 0, failed: 1 });
        const report = JSON.parse(readFileSync(join(ws, "r.json"), "utf8"));
        expect(report.failed).toBe(1);
        expect(report.errors.map((e: { code: string }) => e.code)).toEqual(["OUTPUT_NOT_MATERIALIZED"]);
        // the result was cached: a hit whose outputs cannot be put in place fails the same way
        const hit = await hb(ws, ["build", "//a:g"]);
        expect(hit.exitCode).toBe(1);
        expect(summary(hit)).toMatchObject({ cached: 0, failed: 1 });
        expect(hit.stderr).toContain("hb-out/a/out.txt: could not put it in place (EPERM");
        // what hb-out/ still holds is the first build's, and known as such: that build is good
        writeFileSync(join(ws, "a/in.txt"), "one\n");
        expect((await hb(ws, ["build", "//a:g"])).exitCode).toBe(0);
        writeFileSync(join(ws, "a/in.txt"), "two\n");
      } finally {
        await chattr("-i", join(ws, "hb-out/a"));
      }
      const again = await hb(ws, ["build", "//a:g"]);
      expect(again.exitCode).toBe(0);
      expect(readFileSync(join(ws, "hb-out/a/out.txt"), "utf8")).toBe("two\n");
      // an immutable output file: the same failure, and no temp file left beside it
      await chattr("+i", join(ws, "hb-out/a/out.txt"));
      try {
        writeFileSync(join(ws, "a/in.txt"), "three\n");
        const file = await hb(ws, ["build", "//a:g"]);
        expect(file.exitCode).toBe(1);
        expect(file.stderr).toContain("ERROR: //a:g: hb-out/a/out.txt: could not put it in place (EPERM");
        expect(readdirSync(join(ws, "hb-out/a"))).toEqual(["out.txt"]);
      } finally {
        await chattr("-i", join(ws, "hb-out/a/out.txt"));
      }
    },
  );

  it("writes nothing through a symlink in hb-out/, and takes no symlink for hb-out/ itself", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["o"], cmd: "echo built > $@" });\n',
      "userdir/o": "precious\n",
    });
    mkdirSync(join(ws, "hb-out"));
    symlinkSync("../userdir", join(ws, "hb-out/p"));
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("hb-out/p/o: hb-out/p leads out of hb-out/ through a symlink");
    expect(readFileSync(join(ws, "userdir/o"), "utf8")).toBe("precious\n");
    rmSync(join(ws, "hb-out"), { recursive: true });
    symlinkSync("userdir", join(ws, "hb-out"));
    const linked = await hb(ws, ["build", "//p:x"]);
    expect(linked.exitCode).toBe(2);
    expect(linked.stderr).toContain(`${join(ws, "hb-out")} is a symlink`);
    expect(readFileSync(join(ws, "userdir/o"), "utf8")).toBe("precious\n");
  });

  it("refuses a user's file named hb-out instead of replacing it, in build and clean", async () => {
    const ws = makeWorkspace({
      "a/BUILD.ts": G + 'genrule({ name: "g", outs: ["out.txt"], cmd: "echo hi > $@" });\n',
      "hb-out": "my notes\n",
    });
    for (const args of [["build", "//a:g"], ["clean"]]) {
      const r = await hb(ws, args);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(
        `ERROR: ${join(ws, "hb-out")} is not a directory: hb puts the outputs it builds in a directory of its own there`,
      );
      expect(readFileSync(join(ws, "hb-out"), "utf8")).toBe("my notes\n");
    }
  });

  it("names a declared output the command did not write", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["a.txt", "b.txt"], cmd: "touch $(RULEDIR)/a.txt" });\n' });
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("//p:x: the command did not create its declared output hb-out/p/b.txt");
    expect(existsSync(join(ws, "hb-out/p/a.txt"))).toBe(false);
  });

  it("names a missing source file and who needs it", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["gone.txt"], outs: ["o"], cmd: "cp $< $@" });\n',
      "p/gone.txt": "",
    });
    await hb(ws, ["build", "//p:x"]);
    const { rmSync } = await import("node:fs");
    rmSync(join(ws, "p/gone.txt"));
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("missing input file 'p/gone.txt', needed by //p:x");
  });

  it("reports analysis errors with file:line and exit 2, never a stack trace", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["o"] });\n' });
    const r = await hb(ws, ["build", "//p:x"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("ERROR: p/BUILD.ts:2:1: genrule //p:x is missing its mandatory attribute 'cmd'");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(join(ws, "p/BUILD.ts"), G + 'genrule({ name: "x", outs: ["o"], cmd: "touch $@" });\n');
    const t = await hb(ws, ["build", "//p:y"]);
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain("no target '//p:y'");
  });
});

/** Starts hb in the background and resolves when its stderr matches `ready`. */
function startHb(cwd: string, args: string[], ready: RegExp) {
  const child = execa(process.execPath, [HB, ...args], { cwd, reject: false, env: { PATH: process.env.PATH ?? "" }, extendEnv: false });
  let stderr = "";
  const seen = new Promise<void>((resolve) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (ready.test(stderr)) resolve();
    });
  });
  return { child, seen, stderr: () => stderr };
}

/** Every file below `d` (directories left out), or none when it does not exist. */
const files = (d: string): string[] =>
  existsSync(d)
    ? readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]))
    : [];

describe("hb build: interruption and concurrency", () => {
  it("stops on Ctrl-C: exit 130, running sandbox killed, no output and no cache entry left", async () => {
    const SLEEP = `30.${process.pid}`;
    const ws = makeWorkspace({
      // a sleep no other process on the machine runs (another test run may be going on)
      "p/BUILD.ts": G + `genrule({ name: "slow", outs: ["slow.txt"], cmd: "echo partial > $@; sleep ${SLEEP}; echo done >> $@" });\n`,
    });
    const run = startHb(ws, ["build", "//p:slow"], /\[1\/1\] Executing genrule \/\/p:slow/);
    await run.seen;
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    run.child.kill("SIGINT");
    const r = await run.child;
    expect(r.exitCode).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(run.stderr()).toMatch(/hb: 1 actions: .* \(interrupted\) in /);
    expect(existsSync(join(ws, "hb-out/p/slow.txt"))).toBe(false);
    // no sandbox and no partial file left behind, in the output base or on the tmpfs (the
    // outputs directories kept for the next action stay, empty)
    expect(files(join(ws, ".hb/sandbox"))).toEqual([]);
    const shm = existsSync("/dev/shm") ? readdirSync("/dev/shm").filter((d) => d.startsWith("hb-sandbox-")) : [];
    for (const d of shm) expect(readFileSync(join("/dev/shm", d, "owner.pid"), "utf8")).not.toBe(String(run.child.pid));
    const { stdout } = await execa("pgrep", ["-f", `sleep ${SLEEP}`], { reject: false });
    expect(stdout.trim()).toBe("");
    const db = openDatabase(join(ws, ".hb/hb.db"));
    expect(db.prepare("SELECT count(*) AS n FROM action_cache").get()).toEqual({ n: 0 });
    db.close();
  });

  it("leaves no sandbox laid out ahead for queued actions when it stops, on a failure or on Ctrl-C", async () => {
    let build = G + 'genrule({ name: "bad", outs: ["bad.txt"], cmd: "sleep 0.3; exit 3" });\n';
    for (let i = 0; i < 6; i++)
      build += `genrule({ name: "g${i}", srcs: ["in.txt"], outs: ["g${i}.txt"], cmd: "sleep 0.5; cat $< > $@" });\n`;
    const ours = (pid: number | undefined) =>
      (existsSync("/dev/shm") ? readdirSync("/dev/shm") : []).filter(
        (d) => d.startsWith("hb-sandbox-") && readFileSync(join("/dev/shm", d, "owner.pid"), "utf8") === String(pid),
      );
    const halted = makeWorkspace({ "p/BUILD.ts": build, "p/in.txt": "x\n" });
    const failing = startHb(halted, ["build", "-j", "1", "//p/..."], /hb: \d+ actions/);
    expect((await failing.child).exitCode).toBe(1);
    expect(files(join(halted, ".hb/sandbox"))).toEqual([]);
    expect(ours(failing.child.pid)).toEqual([]);
    const interrupted = makeWorkspace({ "p/BUILD.ts": build.replace("exit 3", "echo > $@"), "p/in.txt": "x\n" });
    const run = startHb(interrupted, ["build", "-j", "1", "//p/..."], /\[1\/7\] Executing genrule/);
    await run.seen;
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill("SIGINT");
    expect((await run.child).exitCode).toBe(130);
    expect(files(join(interrupted, ".hb/sandbox"))).toEqual([]);
    expect(ours(run.child.pid)).toEqual([]);
  });

  it("makes a second hb on the same output base wait, and says so", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "slow", outs: ["s.txt"], cmd: "sleep 1.5; echo s > $@" });\n' });
    const first = startHb(ws, ["build", "//p:slow"], /Executing genrule/);
    await first.seen;
    const second = await hb(ws, ["build", "//p:slow"]);
    expect(second.stderr).toMatch(/another hb \(pid \d+\) is using .*\.hb; waiting/);
    expect(summary(second)).toMatchObject({ executed: 0, cached: 1 });
    expect((await first.child).exitCode).toBe(0);
  });

  it("never trusts a same-size edit made while an action runs with the file's old mtime put back (--sandbox=none)", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["in.txt"], outs: ["o.txt"], cmd: "cat $< > $@; sleep 1.5" });\n',
      "p/in.txt": "one\n",
    });
    const old = (Date.now() - 60_000) / 1000;
    for (const f of ["p/in.txt", "p/BUILD.ts", "hb.config.ts"]) utimesSync(join(ws, f), old, old);
    const run = startHb(ws, ["build", "//p:x", "--sandbox=none"], /Executing genrule/);
    await run.seen;
    await new Promise((r) => setTimeout(r, 500));
    writeFileSync(join(ws, "p/in.txt"), "TWO\n");
    utimesSync(join(ws, "p/in.txt"), old, old);
    expect((await run.child).exitCode).toBe(0);
    // its ctime gives it away
    expect(run.stderr()).toContain("p/in.txt changed while //p:x was running");
    await hb(ws, ["build", "//p:x", "--sandbox=none", "--report", "r.json"]);
    expect(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")).upToDate).toBeUndefined();
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("TWO\n");
    // and the default mode, keyed by the file's real bytes, builds them
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("TWO\n");
  });

  it("does not cache a result read from a directory toolchain that changed while the build ran, and warns", async () => {
    const ws = makeWorkspace({
      "t/BUILD.ts": 'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "lib", path: "vendor/lib" });\n',
      "p/BUILD.ts":
        G +
        'genrule({ name: "slow", outs: ["slow.txt"], cmd: "sleep 1.5; echo > $@" });\n' +
        'genrule({ name: "x", srcs: [":slow"], tools: ["//t:lib"], outs: ["x.out"], cmd: "cat vendor/lib/data.txt > $@" });\n',
      "vendor/lib/data.txt": "GOOD\n",
    });
    const run = startHb(ws, ["build", "//p:x"], /Executing genrule \/\/p:slow/);
    await run.seen;
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(ws, "vendor/lib/data.txt"), "EVIL\n");
    expect((await run.child).exitCode).toBe(0);
    expect(run.stderr()).toContain("vendor/lib changed while the build ran: the results of //p:x are not cached");
    writeFileSync(join(ws, "vendor/lib/data.txt"), "GOOD\n");
    await hb(ws, ["clean"]);
    await hb(ws, ["build", "//p:x"]);
    expect(readFileSync(join(ws, "hb-out/p/x.out"), "utf8")).toBe("GOOD\n");
  });

  it("does not cache a result whose source changed while the action ran, and warns", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["in.txt"], outs: ["o.txt"], cmd: "sleep 1.5; cat $< > $@" });\n',
      "p/in.txt": "before\n",
    });
    const run = startHb(ws, ["build", "//p:x"], /Executing genrule/);
    await run.seen;
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(ws, "p/in.txt"), "after!\n");
    const r = await run.child;
    expect(r.exitCode).toBe(0);
    expect(run.stderr()).toContain("WARNING: p/in.txt changed while //p:x was running: its result is not cached");
    const again = await hb(ws, ["build", "//p:x"]);
    expect(summary(again).executed).toBe(1);
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("after!\n");
  });
});

describe("hb run", () => {
  it("says why a program it built cannot start", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "tool", outs: ["tool"], executable: true, cmd: "echo not a script > $@" });\n',
    });
    const r = await hb(ws, ["run", "//p:tool"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("could not start hb-out/p/tool");
    expect(r.stderr).toContain("chmod +x");
  });
});

describe("hb build: reports and examples", () => {
  it("writes --report JSON with counts and each target's outputs", async () => {
    const ws = makeWorkspace(CHAIN);
    const r = await hb(ws, ["build", "//c", "//d", "--report", "out/report.json"]);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(readFileSync(join(ws, "out/report.json"), "utf8"));
    expect(report).toMatchObject({ actions: 4, executed: 4, cached: { local: 0, remote: 0 }, failed: 0 });
    expect(report.durationMs).toBeGreaterThan(0);
    const { sha256Hex } = await import("../packages/core/src/base/digest");
    expect(report.targets).toEqual([
      { label: "//c:c", outputs: [{ path: "hb-out/c/c.out", sha256: sha256Hex("ONE\nc\n"), size: 6 }] },
      { label: "//d:d", outputs: [{ path: "hb-out/d/d.out", sha256: sha256Hex("dee\n"), size: 4 }] },
    ]);
  });

  it("builds examples/basic, as the README says", async () => {
    const ws = makeWorkspace();
    cpSync(join(REPO, "examples/basic"), join(ws, "examples/basic"), { recursive: true });
    const r = await hb(ws, ["build", "//examples/basic/..."]);
    expect(r.exitCode, r.output).toBe(0);
    expect(summary(r)).toMatchObject({ executed: 4, failed: 0 });
    const bundle = readFileSync(join(ws, "hb-out/examples/basic/app/bundle.txt"), "utf8");
    expect(bundle).toContain("Hello from hb.");
    expect(bundle).toContain('"version":"1.4.0"');
    const q = await hb(ws, ["query", "deps(//examples/basic/app:bundle)"]);
    expect(q.stdout.split("\n")).toEqual(
      expect.arrayContaining(["//examples/basic/greeting:greeting", "//examples/basic/tools:render", "//examples/basic/tools:render.sh"]),
    );
    const rq = await hb(ws, ["query", "rdeps(//examples/basic/..., //examples/basic/version:VERSION)", "--output", "label"]);
    expect(rq.stdout.trim().split("\n")).toEqual([
      "//examples/basic/app:archive",
      "//examples/basic/app:bundle",
      "//examples/basic/version:VERSION",
      "//examples/basic/version:files",
      "//examples/basic/version:version",
    ]);
    const json = JSON.parse((await hb(ws, ["query", "//examples/basic/app:bundle", "--output=json"])).stdout);
    expect(json[0]).toMatchObject({
      label: "//examples/basic/app:bundle",
      kind: "genrule",
      files: ["hb-out/examples/basic/app/bundle.txt"],
    });
    const badPattern = await hb(ws, ["query", "kind([, //examples/basic/...)"]);
    expect(badPattern.exitCode).toBe(2);
    expect(badPattern.stderr).toMatch(/bad query .* at offset 5: kind\(\)'s pattern is not a regular expression/);
    expect(badPattern.stderr).not.toMatch(/internal error|    at /);
    const typo = await hb(ws, ["query", "dep(//examples/basic/app:bundle)"]);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain("at offset 0: unknown function 'dep' (did you mean deps?); known: deps, rdeps, kind");
  });
});

describe("hb CLI", () => {
  it("has --help on every command and clear usage errors", async () => {
    const ws = makeWorkspace();
    for (const args of [["--help"], ["build", "--help"], ["query", "--help"], ["clean", "--help"]]) {
      const r = await hb(ws, args);
      expect(r.exitCode, args.join(" ")).toBe(0);
      expect(r.stdout).toContain("usage:");
    }
    const unknown = await hb(ws, ["biuld", "//..."]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("did you mean 'hb build'?");
    const flag = await hb(ws, ["build", "--keep-gonig", "//..."]);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("did you mean --keep-going?");
    const label = await hb(ws, ["build", "//a//b:c"]);
    expect(label.exitCode).toBe(2);
    expect(label.stderr).toContain("invalid label");
  });

  it("finds the workspace from a subdirectory, outside git, and says when there is none", async () => {
    const ws = makeWorkspace(CHAIN);
    const r = await hb(join(ws, "b"), ["build", ":b"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(existsSync(join(ws, "hb-out/b/b.out"))).toBe(true);
    const none = await hb("/", ["build", "//..."]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain("no hb.config.ts in / or any directory above it");
  });

  it("re-analyzes when a source file appears where a generated file is declared, and refuses it", async () => {
    const ws = makeWorkspace(CHAIN);
    expect((await hb(ws, ["build", "//..."])).exitCode).toBe(0);
    writeFileSync(join(ws, "d/d.out"), "a source now\n");
    const r = await hb(ws, ["build", "//..."]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("generated file 'd.out' of //d:d conflicts with the source file d/d.out");
    rmSync(join(ws, "d/d.out"));
    expect((await hb(ws, ["build", "//d"])).exitCode).toBe(0);
    // in a directory made after the analysis, too
    mkdirSync(join(ws, "e"));
    writeFileSync(join(ws, "e/BUILD.ts"), G + 'genrule({ name: "e", outs: ["gen/e.out"], cmd: "echo > $@" });\n');
    expect((await hb(ws, ["build", "//e"])).exitCode).toBe(0);
    mkdirSync(join(ws, "e/gen"));
    expect((await hb(ws, ["build", "//e"])).exitCode).toBe(0);
    writeFileSync(join(ws, "e/gen/e.out"), "a source now\n");
    const late = await hb(ws, ["build", "//e"]);
    expect(late.exitCode).toBe(2);
    expect(late.stderr).toContain("generated file 'gen/e.out' of //e:e conflicts with the source file e/gen/e.out");
    // a file of a subpackage there: the output lies in that package, which is what is said
    writeFileSync(join(ws, "e/gen/BUILD.ts"), G);
    const sub = await hb(ws, ["build", "//e"]);
    expect(sub.exitCode).toBe(2);
    expect(sub.stderr).toContain("output 'gen/e.out' of //e:e lies in package //e/gen");
  });

  it("clean --expunge removes the output base", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    const r = await hb(ws, ["clean", "--expunge"]);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(ws, ".hb"))).toBe(false);
    expect(existsSync(join(ws, "hb-out"))).toBe(false);
    expect(summary(await hb(ws, ["build", "//..."])).executed).toBe(4);
  });

  it("says in words why it cannot use a path given for its state, a report or keys (exit 2, never a crash or a hang)", async () => {
    const ws = makeWorkspace(CHAIN);
    writeFileSync(join(ws, "a-file"), "x\n");
    for (const [args, message] of [
      [
        ["build", "//d", "--output-base", "a-file"],
        `cannot keep hb's state in ${join(ws, "a-file")}: ${join(ws, "a-file")} is not a directory`,
      ],
      // Node's recursive mkdir never returns for a missing path in /proc
      [["build", "//d", "--output-base", "/proc/hb-state"], "cannot keep hb's state in /proc/hb-state: /proc is not on a disk"],
      [["build", "//d", "--report", "a"], `cannot write the report to ${join(ws, "a")}: it is a directory`],
      [["build", "//d", "--report", "/proc/hb/r.json"], "cannot write the report to /proc/hb/r.json: /proc is not on a disk"],
      [["keygen", "--out", "a-file/keys"], `cannot write keys to ${join(ws, "a-file/keys")}: ${join(ws, "a-file")} is not a directory`],
      [["keygen", "--out", "/proc/hb-keys"], "cannot write keys to /proc/hb-keys: /proc is not on a disk"],
    ] as const) {
      const r = await hb(ws, [...args]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // nothing ran for a report it could not write, and nothing was left beside it
    expect(existsSync(join(ws, "hb-out/d"))).toBe(false);
    expect(readdirSync(ws).filter((n) => n.includes(".tmp-"))).toEqual([]);
    await hb(ws, ["build", "//d"]);
    const r = await hb(ws, ["explain", "hb-out/d"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("cannot explain hb-out/d: it is a directory");
  });

  it("never takes the workspace or hb-out/ for its output base, and clean --expunge removes only hb's own state", async () => {
    const ws = makeWorkspace(CHAIN);
    await hb(ws, ["build", "//..."]);
    symlinkSync(join(ws, "hb-out"), join(ws, "out-link"));
    for (const [cwd, args, env, why] of [
      [ws, ["clean", "--expunge", "--output-base", "."], {}, `holds the workspace ${ws}`],
      [join(ws, "b"), ["clean", "--expunge"], { HB_OUTPUT_BASE: dirname(ws) }, `holds the workspace ${ws}`],
      [ws, ["build", "//...", "--output-base", "hb-out/state"], {}, `is in ${join(ws, "hb-out")}`],
      [join(ws, "b"), ["clean", "--expunge", "--output-base", "."], {}, "is a package (it has a BUILD.ts)"],
      // through a link to hb-out/, to a directory not made yet
      [ws, ["build", "//...", "--output-base", "out-link/state"], {}, `is in ${join(ws, "hb-out")}`],
    ] as const) {
      const r = await hb(cwd, [...args], { ...env });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(why);
    }
    // a directory of someone's files named as the output base by mistake ($HOME)
    const other = tempDir();
    writeFileSync(join(other, "precious.txt"), "keep\n");
    expect((await hb(ws, ["build", "//b", "--output-base", other])).exitCode).toBe(0);
    const r = await hb(ws, ["clean", "--expunge", "--output-base", other]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`kept what is not hb's there: precious.txt`);
    expect(readdirSync(other)).toEqual(["precious.txt"]);
    expect(readdirSync(join(ws, "b")).sort()).toEqual(["BUILD.ts"]);
    // a base hb only half made (a lock taken, no database yet) goes whole
    const half = makeWorkspace(CHAIN);
    await hb(half, ["clean"]);
    expect((await hb(half, ["clean", "--expunge"])).exitCode).toBe(0);
    expect(existsSync(join(half, ".hb"))).toBe(false);
  });
});
