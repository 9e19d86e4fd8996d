import { execa } from "execa";
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hb, makeWorkspace, summary, tempDir } from "./helpers";
import { BUILT, Watch } from "./watch-helpers";

const G = 'import { genrule, glob } from "@hb/core";\n';

const started: Watch[] = [];
function watch(cwd: string, args: string[], env: Record<string, string> = {}): Watch {
  const w = new Watch(cwd, args, env);
  started.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop("SIGKILL")));
});

/** a -> b (b reads a's output), c apart */
const TWO = {
  "a/BUILD.ts": G + 'genrule({ name: "a", srcs: ["a.txt"], outs: ["a.out"], cmd: "cat $< > $@" });\n',
  "a/a.txt": "one\n",
  "b/BUILD.ts": G + 'genrule({ name: "b", srcs: ["//a"], outs: ["b.out"], cmd: "tr a-z A-Z < $< > $@" });\n',
  "c/BUILD.ts": G + 'genrule({ name: "c", srcs: ["c.txt"], outs: ["c.out"], cmd: "cat $< > $@" });\n',
  "c/c.txt": "see\n",
};

const read = (ws: string, p: string) => readFileSync(join(ws, p), "utf8");

/** Once a process whose command line matches `pattern` runs. */
async function running(pattern: string): Promise<void> {
  while ((await execa("pgrep", ["-f", pattern], { reject: false })).stdout.trim() === "") await new Promise((r) => setTimeout(r, 50));
}

/** Every file below `d` (directories left out), or none when it does not exist. */
const files = (d: string): string[] =>
  existsSync(d)
    ? readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]))
    : [];

/**
 * The next build that finishes after `from`: its summary, and what it says changed (the last
 * `hb: changed:` line before it: a build stopped to start over said one too).
 */
async function nextBuild(w: Watch, from: number): Promise<{ changed: string; summary: string; end: number }> {
  const end = await w.waitFor(BUILT, await w.waitFor(/^hb: changed: /, from));
  const start = w.lines.slice(0, end).findLastIndex((l) => /^hb: changed: /.test(l));
  return { changed: w.lines[start]!, summary: w.lines[end]!, end: end + 1 };
}

describe("hb watch", () => {
  it("rebuilds what a change of content reaches; a touch, a same-bytes save and an editor's atomic save of the same bytes run nothing", async () => {
    const ws = makeWorkspace(TWO);
    const w = watch(ws, ["watch", "//...", "--report", "r.json"]);
    const first = await w.waitFor(/^hb: watching \d+ directories for changes/);
    expect(first).toBe(0);
    let at = (await w.waitFor(BUILT)) + 1;
    expect(w.lines[at - 1]).toMatch(/^hb: 3 actions: 3 executed/);
    expect(read(ws, "hb-out/b/b.out")).toBe("ONE\n");

    writeFileSync(join(ws, "a/a.txt"), "two\n");
    let b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: a/a.txt");
    expect(b.summary).toMatch(/^hb: 2 actions: 2 executed, 0 cached, 0 failed/);
    expect(read(ws, "hb-out/b/b.out")).toBe("TWO\n");
    at = b.end;

    // none of these changes a byte: then a real edit elsewhere, whose build must stand alone
    const future = Date.now() / 1000 + 10;
    utimesSync(join(ws, "a/a.txt"), future, future);
    writeFileSync(join(ws, "a/a.txt"), "two\n");
    writeFileSync(join(ws, "a/.a.txt.swp"), "two\n");
    renameSync(join(ws, "a/.a.txt.swp"), join(ws, "a/a.txt"));
    writeFileSync(join(ws, "c/c.txt"), "sea\n");
    b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: c/c.txt");
    expect(b.summary).toMatch(/^hb: 1 actions: 1 executed, 0 cached, 0 failed/);
    expect(w.count(/^hb: changed: /, at)).toBe(1);
    expect(JSON.parse(read(ws, "r.json"))).toMatchObject({ executed: 1, watch: { build: 3, changed: ["c/c.txt"], exitCode: 0 } });
    at = b.end;

    // an atomic save with other bytes is a change
    writeFileSync(join(ws, "a/.a.txt.swp"), "three\n");
    renameSync(join(ws, "a/.a.txt.swp"), join(ws, "a/a.txt"));
    b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: a/a.txt");
    expect(b.summary).toMatch(/^hb: 2 actions: 2 executed, 0 cached, 0 failed/);
    expect(read(ws, "hb-out/b/b.out")).toBe("THREE\n");
    expect(await w.stop()).toBe(0);
    // each build of the watch is recorded as a build, with what it ran
    const records = read(ws, ".hb/records.jsonl")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(records.map((r) => [r.command, r.executed, r.actionList.length])).toEqual([
      ["build", 3, 3],
      ["build", 2, 2],
      ["build", 1, 1],
      ["build", 2, 2],
    ]);
  });

  it("makes one rebuild of a burst of 200 file writes", async () => {
    const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p/f${i}.txt`, `${i}\n`]));
    const ws = makeWorkspace({
      ...files,
      "p/BUILD.ts":
        G +
        'genrule({ name: "all", srcs: glob(["*.txt"]), outs: ["all.txt"], cmd: "sleep 1; cat $(SRCS) | wc -l > $@; cat $(SRCS) | md5sum >> $@" });\n',
    });
    const w = watch(ws, ["watch", "//p:all"]);
    const at = (await w.waitFor(BUILT)) + 1;
    for (let i = 0; i < 200; i++) writeFileSync(join(ws, `p/f${i}.txt`), `${i} changed\n`);
    const b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: p/f0.txt, p/f1.txt, p/f10.txt and 197 more");
    expect(b.summary).toMatch(/^hb: 1 actions: 1 executed/);
    const { stdout } = await execa("bash", ["-c", "cat $(ls p/*.txt | sort) | md5sum"], { cwd: ws });
    expect(read(ws, "hb-out/p/all.txt")).toBe(`200\n${stdout}\n`);
    // and no second build after it: a further edit's build is the next one
    writeFileSync(join(ws, "p/f0.txt"), "again\n");
    const again = await nextBuild(w, b.end);
    expect(again.changed).toBe("hb: changed: p/f0.txt");
    expect(w.count(BUILT, at)).toBe(2);
  });

  it("stops an action whose input changes while it runs, runs it again with the new input, and caches nothing stale", async () => {
    const SLEEP = `30.${process.pid}`;
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        `genrule({ name: "s", srcs: ["in.txt"], outs: ["out.txt"], cmd: "if grep -q slow $<; then sleep ${SLEEP}; fi; cat $< > $@" });\n`,
      "p/in.txt": "fast 1\n",
      "q/BUILD.ts": G + 'genrule({ name: "q", srcs: ["q.txt"], outs: ["q.out"], cmd: "cat $< > $@" });\n',
      "q/q.txt": "q\n",
    });
    const w = watch(ws, ["watch", "//..."]);
    let at = (await w.waitFor(BUILT)) + 1;
    writeFileSync(join(ws, "p/in.txt"), "slow 2\n");
    await w.waitFor(/^\[1\/1\] Executing genrule \/\/p:s$/, at);
    // the command runs (its sandbox laid out, its input staged): then its input changes
    await running(`sleep ${SLEEP}`);
    writeFileSync(join(ws, "p/in.txt"), "fast 3\n");
    const stopped = await w.waitFor(/^hb: p\/in.txt changed during the build: 1 stale action stopped, starting over$/, at);
    const b = await nextBuild(w, stopped);
    expect(b.summary).toMatch(/^hb: 1 actions: 1 executed, 0 cached, 0 failed/);
    expect(read(ws, "hb-out/p/out.txt")).toBe("fast 3\n");
    const { stdout } = await execa("pgrep", ["-f", `sleep ${SLEEP}`], { reject: false });
    expect(stdout.trim()).toBe("");
    // no sandbox left of the stopped action (the empty outputs directories kept for the next stay)
    expect(files(join(ws, ".hb/sandbox"))).toEqual([]);
    at = b.end;
    expect(await w.stop()).toBe(0);
    // the stopped run's input again: nothing was cached for it, so a build runs it (and is stopped)
    writeFileSync(join(ws, "p/in.txt"), "slow 2\n");
    const again = watch(ws, ["watch", "//p:s"]);
    await again.waitFor(/^\[1\/1\] Executing genrule \/\/p:s$/);
    await running(`sleep ${SLEEP}`);
    expect(await again.stop()).toBe(130);
  });

  it("picks up a new file a glob matches and a target a BUILD.ts edit adds; a deleted source is a failure said once, and the watch goes on", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "cat", srcs: glob(["*.txt"]), outs: ["all"], cmd: "cat $(SRCS) > $@" });\n',
      "p/1.txt": "1\n",
      "q/BUILD.ts": G + 'genrule({ name: "q", srcs: ["q.txt"], outs: ["q.out"], cmd: "cat $< > $@" });\n',
      "q/q.txt": "q\n",
      "r/BUILD.ts": G + 'genrule({ name: "r", srcs: ["r.txt"], outs: ["r.out"], cmd: "cat $< > $@" });\n',
      "r/r.txt": "r\n",
    });
    const w = watch(ws, ["watch", "//..."]);
    let at = (await w.waitFor(BUILT)) + 1;
    writeFileSync(join(ws, "p/2.txt"), "2\n");
    let b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: p/2.txt");
    expect(read(ws, "hb-out/p/all")).toBe("1\n2\n");
    at = b.end;

    writeFileSync(
      join(ws, "q/BUILD.ts"),
      read(ws, "q/BUILD.ts") + 'genrule({ name: "q2", srcs: ["q.txt"], outs: ["q2.out"], cmd: "rev $< > $@" });\n',
    );
    b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: q/BUILD.ts");
    // only the new target's action runs: the others are as analysis described them before
    expect(b.summary).toMatch(/^hb: 1 actions: 1 executed, 0 cached, 0 failed/);
    expect(read(ws, "hb-out/q/q2.out")).toBe("q\n");
    at = b.end;

    rmSync(join(ws, "r/r.txt"));
    b = await nextBuild(w, at);
    expect(b.summary).toMatch(/^hb: 1 actions: 0 executed, 0 cached, 1 failed/);
    expect(w.count(/missing input file 'r\/r.txt', needed by \/\/r:r/, at)).toBe(1);
    at = b.end;
    // another change: built, and the failure stands without being said again
    writeFileSync(join(ws, "q/q.txt"), "qq\n");
    b = await nextBuild(w, at);
    expect(b.summary).toMatch(/^hb: 2 actions: 2 executed, 0 cached, 0 failed/);
    await w.waitFor(/^hb: 1 earlier failure stands: not run again until its inputs change$/, b.end);
    expect(w.count(/missing input file/, at)).toBe(0);
    at = b.end;
    writeFileSync(join(ws, "r/r.txt"), "back\n");
    b = await nextBuild(w, at);
    expect(b.summary).toMatch(/^hb: 1 actions: 1 executed, 0 cached, 0 failed/);
    expect(read(ws, "hb-out/r/r.out")).toBe("back\n");
    // a broken BUILD.ts: said once, then fixed
    const good = read(ws, "q/BUILD.ts");
    writeFileSync(join(ws, "q/BUILD.ts"), good + "genrule({ name: 'broken' });\n");
    const err = await w.waitFor(/^ERROR: q\/BUILD.ts:\d+:\d+: /, b.end);
    await w.waitFor(/^hb: waiting for a change to the files analysis read/, err);
    writeFileSync(join(ws, "q/q.txt"), "qqq\n");
    writeFileSync(join(ws, "q/BUILD.ts"), good);
    b = await nextBuild(w, err);
    expect(read(ws, "hb-out/q/q2.out")).toBe("qqq\n");
    expect(w.count(/^ERROR: /, err)).toBe(1);
    expect(await w.stop()).toBe(0);
  });

  it("falls back to polling when the system refuses more watches, says which sysctl to raise, and still rebuilds", async () => {
    const ws = makeWorkspace(TWO);
    const w = watch(ws, ["watch", "//..."], { HB_WATCH_LIMIT: "2" });
    await w.waitFor(
      /^hb: watching \d+ directories by polling every \d+ ms \(slower\): the system refuses more file watches \(ENOSPC\)\. Raise the limit: sudo sysctl -w fs\.inotify\.max_user_watches=\d+/,
    );
    expect(w.lines[0]).toMatch(/^hb: watching/);
    const at = (await w.waitFor(BUILT)) + 1;
    writeFileSync(join(ws, "c/c.txt"), "polled\n");
    const b = await nextBuild(w, at);
    expect(b.changed).toBe("hb: changed: c/c.txt");
    expect(read(ws, "hb-out/c/c.out")).toBe("polled\n");
    // a touch is still no change
    const future = Date.now() / 1000 + 10;
    utimesSync(join(ws, "a/a.txt"), future, future);
    writeFileSync(join(ws, "c/c.txt"), "polled again\n");
    const next = await nextBuild(w, b.end);
    expect(next.changed).toBe("hb: changed: c/c.txt");
    expect(await w.stop("SIGTERM")).toBe(0);
  });

  it("exits with the last build's code on Ctrl-C, and says --help", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["x.txt"], outs: ["o"], cmd: "exit 1" });\n', "p/x.txt": "" });
    const w = watch(ws, ["watch", "//p:x"]);
    await w.waitFor(BUILT);
    expect(await w.stop()).toBe(1);
    const help = await hb(ws, ["watch", "--help"]);
    expect(help.stdout).toContain("usage: hb watch [options] <pattern>...");
    expect(help.stdout).toContain("a touch or a save of the same bytes runs nothing");
    for (const cmd of ["test", "run"]) expect((await hb(ws, [cmd, "--help"])).stdout).toMatch(/--watch/);
  });
});

describe("hb watch: outputs equal a clean build's after any sequence of edits", () => {
  it("through a randomized sequence of edits, touches, new and deleted files and BUILD.ts changes", async () => {
    let seed = 17;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const build = (p: string, dep?: string) =>
      G +
      `genrule({ name: "${p}", srcs: glob(["*.txt"])${dep ? `.concat(["//${dep}"])` : ""}, outs: ["${p}.out"], cmd: "cat $(SRCS) | sort > $@" });\n`;
    const pkgs = ["a", "b", "c", "d"];
    const files: Record<string, string> = {
      "s/BUILD.ts": G + 'genrule({ name: "s", srcs: ["s.txt"], outs: ["s.out"], cmd: "cat $< > $@" });\n',
      "s/s.txt": "0\n",
    };
    pkgs.forEach((p, i) => {
      files[`${p}/BUILD.ts`] = build(p, i > 0 ? pkgs[i - 1] : undefined);
      files[`${p}/x.txt`] = `${p} x\n`;
    });
    const ws = makeWorkspace(files);
    const w = watch(ws, ["watch", "//..."]);
    let at = (await w.waitFor(BUILT)) + 1;
    for (let round = 1; round <= 6; round++) {
      for (let k = 0; k < 3; k++) {
        const p = pkgs[random(pkgs.length)]!;
        const name = `${p}/f${random(3)}.txt`;
        const kind = random(5);
        if (kind === 0) writeFileSync(join(ws, name), `${name} ${round} ${k}\n`);
        else if (kind === 1 && existsSync(join(ws, name))) rmSync(join(ws, name));
        else if (kind === 2) writeFileSync(join(ws, `${p}/x.txt`), readFileSync(join(ws, `${p}/x.txt`)));
        else if (kind === 3) writeFileSync(join(ws, `${p}/x.txt`), `${p} x ${round}\n`);
        else
          writeFileSync(
            join(ws, `${p}/BUILD.ts`),
            read(ws, `${p}/BUILD.ts`).replace(/\| sort( -r)? >/, (m) => (m.includes("-r") ? "| sort >" : "| sort -r >")),
          );
      }
      // a sentinel edit: the build that says it has seen everything written before it
      writeFileSync(join(ws, "s/s.txt"), `${round}\n`);
      for (;;) {
        const b = await nextBuild(w, at);
        at = b.end;
        if (read(ws, "hb-out/s/s.out") === `${round}\n`) break;
      }
    }
    expect(await w.stop()).toBe(0);
    const clean = makeWorkspace();
    await execa("cp", ["-a", `${ws}/.`, clean]);
    rmSync(join(clean, ".hb"), { recursive: true, force: true });
    rmSync(join(clean, "hb-out"), { recursive: true, force: true });
    const r = await hb(clean, ["build", "//..."]);
    expect(summary(r).failed).toBe(0);
    const outputs = (dir: string) => Object.fromEntries([...pkgs, "s"].map((p) => [p, read(dir, `hb-out/${p}/${p}.out`)]));
    expect(outputs(ws)).toEqual(outputs(clean));
  });
});

describe("hb test --watch", () => {
  it("re-runs the tests a change reaches; the others stay CACHED; a failing test exits 3", async () => {
    const ws = makeWorkspace({
      "t/BUILD.ts": [
        'import { attr, rule } from "@hb/core";',
        "const check = rule({",
        '  kind: "check_test",',
        "  test: true,",
        "  attrs: { src: attr.label({ mandatory: true }) },",
        "  impl(ctx) {",
        "    const log = ctx.declareFile(`${ctx.name}.test.log`);",
        '    const [src] = ctx.files("src");',
        "    ctx.actions.run({",
        '      executable: "/bin/bash",',
        '      arguments: ["-c", `grep -q ok ${src!.path} && echo pass > ${log.path}`],',
        "      inputs: [src!],",
        "      outputs: [log],",
        '      mnemonic: "Test",',
        "    });",
        "    return { files: [], test: { log: log.path } };",
        "  },",
        "});",
        'check({ name: "t1", src: "a.txt" });',
        'check({ name: "t2", src: "b.txt" });',
        "",
      ].join("\n"),
      "t/a.txt": "ok\n",
      "t/b.txt": "ok\n",
    });
    const w = watch(ws, ["test", "--watch", "//t/..."]);
    let at = (await w.waitFor(/^hb: 2 tests: 2 passed \(0 cached\), 0 failed$/)) + 1;
    writeFileSync(join(ws, "t/a.txt"), "ok again\n");
    await w.waitFor(/^hb: changed: t\/a.txt$/, at);
    const passed = await w.waitFor(/^\/\/t:t1\s+PASSED in \d+\.\d+ s$/, at);
    expect(await w.waitFor(/^\/\/t:t2\s+CACHED$/, at)).toBe(passed + 1);
    at = (await w.waitFor(/^hb: 2 tests: 2 passed \(1 cached\), 0 failed$/, at)) + 1;
    writeFileSync(join(ws, "t/b.txt"), "bad\n");
    await w.waitFor(/^\/\/t:t2\s+FAILED in /, at);
    at = (await w.waitFor(/^hb: 2 tests: 1 passed \(1 cached\), 1 failed$/, at)) + 1;
    expect(await w.stop()).toBe(3);
  });
});

/** A program that logs its start and a child it leaves running, and with MODE=notify every line it reads. */
const PROGRAM = {
  "p/dev.sh.in": [
    "#!/bin/sh",
    'echo "start $$ @MSG@" >> "$LOG"',
    "sleep 1000 &",
    'echo "child $! @MSG@" >> "$LOG"',
    'if [ "$MODE" = notify ]; then while read -r line; do echo "notified $line" >> "$LOG"; done; fi',
    "wait",
    "",
  ].join("\n"),
  "p/msg.txt": "one\n",
  "p/BUILD.ts":
    G +
    'genrule({ name: "dev", srcs: ["msg.txt", "dev.sh.in"], outs: ["dev.sh"], executable: true, cmd: "if grep -q bad $(location msg.txt); then exit 1; fi; sed \\"s|@MSG@|$$(cat $(location msg.txt))|\\" $(location dev.sh.in) > $@; chmod +x $@" });\n' +
    'genrule({ name: "other", srcs: ["msg.txt", "dev.sh.in"], outs: ["other.sh"], executable: true, cmd: "sed \\"s|@MSG@|other $$(cat $(location msg.txt))|\\" $(location dev.sh.in) > $@; chmod +x $@" });\n',
};

/** Whether `pid` runs: a zombie, killed and waiting for its parent to collect it, does not. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

/** Those of `pids` still running once a kill has had its moment to land (a dying process is briefly still there). */
async function survivors(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  return pids.filter(alive);
}

/** The pids a program's log says its starts and children had, once it says `want` of them. */
async function logged(log: string, re: RegExp, want: number): Promise<number[]> {
  for (;;) {
    const pids = existsSync(log) ? [...readFileSync(log, "utf8").matchAll(new RegExp(re, "gm"))].map((m) => Number(m[1])) : [];
    if (pids.length >= want) return pids;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("hb run --watch", () => {
  it("restarts the program after a build that changed it, keeps it through a failed build, and leaves no process behind", async () => {
    const ws = makeWorkspace(PROGRAM);
    const log = join(tempDir(), "log");
    const w = watch(ws, ["run", "--watch", "//p:dev"], { LOG: log });
    let at = (await w.waitFor(/^hb: started \/\/p:dev \(pid \d+\)$/)) + 1;
    const [first] = await logged(log, /^start (\d+) one$/, 1);
    const [firstChild] = await logged(log, /^child (\d+) one$/, 1);
    writeFileSync(join(ws, "p/msg.txt"), "two\n");
    at = (await w.waitFor(/^hb: started \/\/p:dev/, at)) + 1;
    const [second] = await logged(log, /^start (\d+) two$/, 1);
    expect(second).not.toBe(first);
    // the old program and what it started are gone
    expect(await survivors([first!, firstChild!])).toEqual([]);
    // a save of the same bytes: no build, no restart; a build that fails keeps the program
    writeFileSync(join(ws, "p/msg.txt"), "two\n");
    writeFileSync(join(ws, "p/msg.txt"), "bad\n");
    await w.waitFor(/^hb: the build failed: \/\/p:dev keeps running its last good build$/, at);
    expect(alive(second!)).toBe(true);
    expect(w.count(/^hb: started /, at), w.output).toBe(0);
    const [secondChild] = await logged(log, /^child (\d+) two$/, 1);
    expect(await w.stop()).toBe(1);
    expect(await survivors([second!, secondChild!])).toEqual([]);
  });

  it("gives each target its own policy: notify writes a JSON line per build to the program's stdin; on-change stops it at the change", async () => {
    const ws = makeWorkspace(PROGRAM);
    const log = join(tempDir(), "log");
    const w = watch(ws, ["run", "--watch", "//p:dev", "//p:other", "--restart", "on-change", "--restart", "//p:dev=notify"], {
      LOG: log,
      MODE: "notify",
    });
    const at = Math.max(await w.waitFor(/^hb: started \/\/p:other/), await w.waitFor(/^hb: started \/\/p:dev/)) + 1;
    const [dev] = await logged(log, /^start (\d+) one$/, 1);
    const [other] = await logged(log, /^start (\d+) other one$/, 1);
    writeFileSync(join(ws, "p/msg.txt"), "two\n");
    await logged(log, /^start (\d+) other two$/, 1);
    expect(await survivors([other!])).toEqual([]);
    const lines = readFileSync(log, "utf8");
    await logged(log, /^notified ()\{"build":"ok","number":2,"changed":\["p\/msg.txt"\],"outputsChanged":true\}$/, 1);
    expect(lines).not.toMatch(/^start \d+ two$/m);
    expect(alive(dev!)).toBe(true);
    expect(w.count(/^hb: started \/\/p:dev/, at)).toBe(0);
    expect(await w.stop("SIGTERM"), w.output).toBe(0);
    const pids = await logged(log, /^(?:start|child) (\d+)/, 4);
    expect(await survivors(pids)).toEqual([]);
  });
});
