import { execaSync } from "execa";
import { existsSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../packages/core/src/base/digest";
import { hb, makeWorkspace, summary, tempDir, writeFiles } from "./helpers";

// Every action runs under real bwrap: these tests try to get out, and must not.

const G = 'import { genrule } from "@hb/core";\n';

describe("the action sandbox", () => {
  it("hides undeclared workspace files: an action reading one fails, naming label, command and stderr", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G + 'genrule({ name: "peek", srcs: ["declared.txt"], outs: ["o.txt"], cmd: "cat p/declared.txt p/undeclared.txt > $@" });\n',
      "p/declared.txt": "ok\n",
      "p/undeclared.txt": "secret\n",
    });
    const r = await hb(ws, ["build", "//p:peek"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("//p:peek: Genrule exited with code 1");
    expect(r.stderr).toContain("command: cat p/declared.txt p/undeclared.txt > hb-out/p/o.txt");
    expect(r.stderr).toContain("p/undeclared.txt: No such file or directory");
    expect(r.stderr).toContain("the sandbox holds only declared inputs");
    expect(summary(r)).toMatchObject({ actions: 1, executed: 0, failed: 1 });
  });

  it("shows neither $HOME, /work, the workspace nor the output base", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        `genrule({ name: "look", outs: ["seen.txt"], cmd: "for d in ${homedir()} /root /work ${join("WS")} ${join("WS", ".hb")}; do if [ -e $$d ]; then echo visible $$d; fi; done; echo home=$$HOME pwd=$$(pwd) > $@" });\n`,
    });
    const build = readFileSync(join(ws, "p/BUILD.ts"), "utf8").replaceAll("WS", ws);
    writeFileSync(join(ws, "p/BUILD.ts"), build);
    const r = await hb(ws, ["build", "//p:look"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/seen.txt"), "utf8")).toBe("home=/hb/home pwd=/hb/execroot\n");
    expect(r.stderr).not.toContain("visible");
  });

  it("keeps sources and the CAS intact when an action chmods an input and writes to it", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "gen", outs: ["gen.txt"], cmd: "echo generated > $@" });\n' +
        'genrule({ name: "attack", srcs: ["src.txt", ":gen"], outs: ["o.txt"], cmd: ' +
        '"for f in $(SRCS); do chmod u+w $$f || true; echo tampered >> $$f || true; done; cat $(SRCS) > $@" });\n',
      "p/src.txt": "original\n",
    });
    const r = await hb(ws, ["build", "//p:attack"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "p/src.txt"), "utf8")).toBe("original\n");
    expect(statSync(join(ws, "p/src.txt")).mode & 0o777).toBe(0o644);
    // the generated input was a copy: its blob, hardlinked at hb-out/p/gen.txt, is untouched
    expect(readFileSync(join(ws, "hb-out/p/gen.txt"), "utf8")).toBe("generated\n");
    // every blob still hashes to its name
    let blobs = 0;
    for (const sub of readdirSync(join(ws, ".hb/cas"))) {
      if (sub === "tmp") continue;
      for (const blob of readdirSync(join(ws, ".hb/cas", sub))) {
        expect(sha256Hex(readFileSync(join(ws, ".hb/cas", sub, blob)))).toBe(blob.replace(/\.x$/, ""));
        blobs++;
      }
    }
    expect(blobs).toBe(2);
    const again = await hb(ws, ["build", "//p:attack"]);
    expect(summary(again)).toMatchObject({ executed: 0, cached: 2 });
    expect(again.stderr).not.toContain("cache:");
  });

  it("has no network: a TCP connection to a server on the host's 127.0.0.1 fails", async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.end("hello\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const ws = makeWorkspace({
        "p/BUILD.ts":
          G +
          `genrule({ name: "net", outs: ["net.txt"], cmd: "if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo connected > $@; else echo refused > $@; fi" });\n`,
      });
      const r = await hb(ws, ["build", "//p:net"]);
      expect(r.exitCode, r.output).toBe(0);
      expect(readFileSync(join(ws, "hb-out/p/net.txt"), "utf8")).toBe("refused\n");
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it("gives actions none of the host env, only the declared and determinism env", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "env", outs: ["env.txt"], cmd: "env | sort > $@" });\n' });
    const r = await hb(ws, ["build", "//p:env"], { HB_TEST_SECRET: "s3cret-value", HB_CACHE_TOKEN: "tok3n" });
    expect(r.exitCode, r.output).toBe(0);
    const env = readFileSync(join(ws, "hb-out/p/env.txt"), "utf8");
    expect(env).not.toContain("s3cret-value");
    expect(env).not.toContain("tok3n");
    for (const line of ["SOURCE_DATE_EPOCH=315532800", "TZ=UTC", "LC_ALL=C.UTF-8", "LANG=C.UTF-8", "HOME=/hb/home", "TMPDIR=/tmp"]) {
      expect(env).toContain(line);
    }
  });

  it("runs actions as an unprivileged user with no capabilities, a fixed hostname and a fresh /tmp", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G +
        'genrule({ name: "who", outs: ["who.txt"], cmd: "(id -u; hostname; grep CapEff /proc/self/status; ls -A /tmp | wc -l) > $@" });\n',
    });
    const r = await hb(ws, ["build", "//p:who"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/who.txt"), "utf8")).toBe("65534\nhb\nCapEff:\t0000000000000000\n0\n");
  });

  it("refuses an output that is a symlink", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "link", outs: ["l.txt"], cmd: "ln -s /etc/passwd $@" });\n' });
    const r = await hb(ws, ["build", "//p:link"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("output hb-out/p/l.txt is a symlink");
  });

  it("says how to install bubblewrap when it is missing", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["x"], cmd: "touch $@" });\n' });
    const r = await hb(ws, ["build", "//p:x"], { HB_BWRAP: "/nonexistent/bwrap" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("apt-get install bubblewrap");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("evaluates BUILD.ts in its own sandbox: escaping node:vm finds no env, no home, no output base", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts":
        'import { filegroup, glob } from "@hb/core";\n' +
        'const proc = (glob as any).constructor("return process")();\n' +
        "const fs = proc.getBuiltinModule ? proc.getBuiltinModule('fs') : undefined;\n" +
        "const seen = [proc.env.HB_TEST_SECRET ?? 'noenv', fs && fs.existsSync(proc.cwd() + '/.hb/hb.db') ? 'hb' : 'nohb', fs && fs.existsSync('/root') ? 'root' : 'noroot'];\n" +
        "let wrote = 'nowrite'; try { fs.writeFileSync(proc.cwd() + '/p/planted.txt', 'x'); wrote = 'wrote'; } catch {}\n" +
        'filegroup({ name: seen.join("-") + "-" + wrote });\n',
    });
    // a first build creates the output base, so there is something to hide
    await hb(ws, ["query", "//..."], { HB_TEST_SECRET: "s3cret" });
    const r = await hb(ws, ["query", "//p:all"], { HB_TEST_SECRET: "s3cret" });
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout.trim()).toBe("//p:noenv-nohb-noroot-nowrite");
  });
});

describe("a sandbox ordinary tests can live in", () => {
  it("resolves localhost to a loopback a server can listen on and be reached at", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "net", srcs: ["listen.js"], outs: ["net.txt"], cmd: "(getent hosts hb; node $<) > $@" });\n',
      "p/listen.js":
        "const net = require('net');\n" +
        "const s = net.createServer((c) => c.end('hi'));\n" +
        "s.listen(0, 'localhost', () => net.connect(s.address().port, 'localhost').on('data', (d) => { console.log(String(d)); s.close(); process.exit(0); }));\n",
    });
    const r = await hb(ws, ["build", "//p:net"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/net.txt"), "utf8")).toBe("127.0.1.1       hb\nhi\n");
  });

  it("gives git a fixed identity for tests that commit, which a repository's own config overrides", async () => {
    const commit = (who: string) =>
      `git init -q ${who} && cd ${who} && ${who === "own" ? "git config user.name Ada && " : ""}echo x > f && git add f && ` +
      `git commit -qm first && git log --format='%an <%ae> %cn' && git branch --show-current && cd ..`;
    const ws = makeWorkspace({
      "p/BUILD.ts":
        G + `genrule({ name: "git", outs: ["git.txt"], cmd: "cd $$TMPDIR && (${commit("fixed")} && ${commit("own")}) > $$OLDPWD/$@" });\n`,
    });
    const r = await hb(ws, ["build", "//p:git"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/git.txt"), "utf8")).toBe("hb <hb@localhost> hb\nmain\nAda <hb@localhost> Ada\nmain\n");
  });

  it("shows a toolchain that lives under /tmp: the sandbox's own /tmp does not hide it", async () => {
    const dir = tempDir();
    expect(dir.startsWith("/tmp/")).toBe(true);
    writeFiles(dir, { "bin/greet+x": "#!/bin/sh\necho hello from /tmp\n" });
    const tool = join(dir, "bin/greet");
    const ws = makeWorkspace({
      "p/BUILD.ts":
        'import { genrule, toolchain } from "@hb/core";\n' +
        `toolchain({ name: "greet", path: "${tool}", sha256: "${sha256Hex(readFileSync(tool))}" });\n` +
        'genrule({ name: "use", tools: [":greet"], outs: ["o.txt"], cmd: "greet > $@; ls -A /tmp | wc -l >> $@" });\n',
    });
    const r = await hb(ws, ["build", "//p:use"]);
    expect(r.exitCode, r.output).toBe(0);
    // the tool is there, and /tmp holds nothing else: only the directories leading to it
    expect(readFileSync(join(ws, "hb-out/p/o.txt"), "utf8")).toBe("hello from /tmp\n1\n");
  });
});

describe("secrets in the workspace (.git/config, .env)", () => {
  const TOKEN = "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldA==";
  const secretWorkspace = (files: Record<string, string>) => {
    const ws = makeWorkspace(files);
    execaSync("git", ["init", "-q"], { cwd: ws });
    // where a CI checkout keeps the job's token (the default of the most used checkout action)
    writeFileSync(join(ws, ".git/config"), `[http "https://github.com/"]\n\textraheader = ${TOKEN}\n`, { flag: "a" });
    writeFileSync(join(ws, ".env"), "API_KEY=sk-live-0123456789\n");
    return ws;
  };

  it("are out of reach of a BUILD.ts escaping node:vm: the evaluator sees no workspace file", async () => {
    const ws = secretWorkspace({});
    writeFiles(ws, {
      "p/BUILD.ts":
        'import { filegroup, genrule } from "@hb/core";\n' +
        'const proc = (genrule as any).constructor.constructor("return globalThis.process")();\n' +
        "const fs = proc.getBuiltinModule('fs');\n" +
        "const found: string[] = [];\n" +
        `for (const f of [${JSON.stringify(join(ws, ".git/config"))}, ${JSON.stringify(join(ws, ".env"))}, ${JSON.stringify(join(ws, "p/BUILD.ts"))}, ".git/config", "../.git/config"]) {\n` +
        "  try { found.push(fs.readFileSync(f, 'utf8')); } catch {}\n" +
        "  try { found.push(proc.binding('fs').readFileUtf8(f, 0)); } catch {}\n" +
        "}\n" +
        "const leaked = found.join('|');\n" +
        "genrule({ name: 'leak', outs: ['o.txt'], cmd: 'echo ' + JSON.stringify(leaked) + ' > $@; exit 1' });\n" +
        "filegroup({ name: found.length === 0 ? 'nothing' : 'read-' + found.length });\n",
    });
    const q = await hb(ws, ["query", "//p:all"]);
    expect(q.exitCode, q.output).toBe(0);
    expect(q.stdout.split("\n")).toContain("//p:nothing");
    const r = await hb(ws, ["build", "//p:leak", "--report", "r.json"]);
    expect(r.exitCode).toBe(1);
    expect(r.output).not.toContain("extraheader");
    expect(r.output).not.toContain("sk-live");
    expect(readFileSync(join(ws, "r.json"), "utf8")).not.toContain("extraheader");
  });

  it("are never sources: by name, glob, symlink or toolchain path, an analysis error that says why", async () => {
    const ws = secretWorkspace({});
    symlinkSync(".git/config", join(ws, "p-link"));
    const cases: [string, string, string][] = [
      [
        "BUILD.ts",
        'genrule({ name: "x", srcs: [".git/config"], outs: ["o"], cmd: "cp $< $@" });',
        ".git/config is inside .git/, version-control metadata, which is never a source",
      ],
      [
        "BUILD.ts",
        'genrule({ name: "x", srcs: glob([".git/**"]), outs: ["o"], cmd: "cat $(SRCS) > $@" });',
        "glob pattern '.git/**' reaches into .git/",
      ],
      ["BUILD.ts", 'genrule({ name: "x", srcs: ["p-link"], outs: ["o"], cmd: "cp $< $@" });', "p-link (a symlink to"],
      [
        "BUILD.ts",
        'local_toolchain({ name: "t", path: ".git" });\ngenrule({ name: "x", tools: [":t"], outs: ["o"], cmd: "touch $@" });',
        "toolchain path '.git' of //:t is inside .git/",
      ],
    ];
    for (const [file, rule, message] of cases) {
      writeFiles(ws, { [file]: 'import { genrule, glob, local_toolchain } from "@hb/core";\n' + rule + "\n" });
      const r = await hb(ws, ["build", "//:x"]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.stderr).toContain(message);
      expect(existsSync(join(ws, "hb-out/o"))).toBe(false);
    }
    // a toolchain linked into .git/ is refused when it is resolved, before any action sees it
    symlinkSync(".git", join(ws, "vcs"));
    writeFiles(ws, {
      "BUILD.ts":
        'import { genrule, local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "t", path: "vcs" });\ngenrule({ name: "x", tools: [":t"], outs: ["o"], cmd: "cat vcs/config > $@" });\n',
    });
    const linked = await hb(ws, ["build", "//:x"]);
    expect(linked.exitCode).toBe(1);
    expect(linked.stderr).toContain(`toolchain //:t: ${join(ws, "vcs")} cannot be shown to actions: it resolves to`);
    expect(existsSync(join(ws, "hb-out/o"))).toBe(false);
  });

  it("are out of reach of BUILD.ts imports: template-literal imports, import attributes, data files, host files", async () => {
    const ws = secretWorkspace({ "p/secret.json": '{ "token": "sk-live-json" }\n' });
    const cases: [string, string][] = [
      [
        'const n = "config";\nimport(`../.git/${n}`).then((m: any) => console.log(String(m.default)));',
        "inside .git/: version-control metadata is never read by BUILD.ts files",
      ],
      ['import env from "../.env" with { type: "text" };\nconsole.log(env);', "import attributes (with { type: ... }) read files as data"],
      ['import s from "./secret.json";\nconsole.log(s);', "is not code (.ts, .js, .mts, .mjs, .cts, .cjs)"],
      [
        'const h = "passwd";\nimport(`../../../../../../../../etc/${h}.js`).then((m: any) => console.log(String(m.default)));',
        "Module not found in bundle",
      ],
    ];
    for (const [code, message] of cases) {
      writeFiles(ws, { "p/BUILD.ts": G + code + '\ngenrule({ name: "x", outs: ["o"], cmd: "touch $@" });\n' });
      const r = await hb(ws, ["build", "//p:x"]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.output).not.toMatch(/extraheader|sk-live|root:x:0/);
    }
  });

  it("are out of reach of a BUILD.ts forging the evaluator's result, or writing to its protocol", async () => {
    const ws = secretWorkspace({ "p/dummy.txt": "hi\n" });
    const escape = 'const proc = (genrule as any).constructor.constructor("return globalThis.process")();\n';
    // the evaluator's result is rewritten on its way out to name .git/config instead
    writeFiles(ws, {
      "p/BUILD.ts":
        G +
        escape +
        "const write = proc.stdout.write.bind(proc.stdout);\n" +
        'proc.stdout.write = (s: any, ...a: any[]) => write(typeof s === "string" && s.includes(\'"op":"done"\') ? s.split("p/dummy.txt").join(".git/config") : s, ...a);\n' +
        'genrule({ name: "x", srcs: ["dummy.txt"], outs: ["o"], cmd: "cat $(SRCS) > $@" });\n',
    });
    const forged = await hb(ws, ["build", "//p:x"]);
    expect(forged.exitCode, forged.output).toBe(2);
    expect(forged.stderr).toContain(
      "the analysis asks //p:x to read .git/config, version-control metadata, which no BUILD.ts can declare: refused",
    );
    expect(existsSync(join(ws, "hb-out/p/o"))).toBe(false);
    for (const line of ["null", '{"op":"done","result":{"ok":true}}', '{"op":"done","result":{"ok":false,"error":null,"log":[]}}']) {
      writeFiles(ws, { "p/BUILD.ts": G + escape + `proc.stdout.write(${JSON.stringify(line + "\n")});\n` });
      const r = await hb(ws, ["build", "//p:x"]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.stderr).toMatch(/the BUILD.ts evaluator( wrote something that is not hb's protocol|'s result is not of the form hb reads)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("are out of reach through a symlink swapped after the analysis, or a directory toolchain holding the workspace", async () => {
    const ws = secretWorkspace({ "p/ok.txt": "ok\n" });
    symlinkSync("ok.txt", join(ws, "p/k"));
    writeFiles(ws, { "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["k"], outs: ["o"], cmd: "cat $(SRCS) > $@" });\n' });
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    // the analysis stays cached: the link is checked again where the input is staged
    rmSync(join(ws, "p/k"));
    symlinkSync("../.git/config", join(ws, "p/k"));
    const swapped = await hb(ws, ["build", "//p:x"]);
    expect(swapped.exitCode).toBe(1);
    expect(swapped.stderr).toContain("input 'p/k' of //p:x cannot be staged: it resolves to");
    // and what the last build made from the old link no longer stands for this build's inputs
    expect(existsSync(join(ws, "hb-out/p/o"))).toBe(false);
    symlinkSync(".", join(ws, "rootlink"));
    writeFiles(ws, {
      "BUILD.ts":
        'import { genrule, local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "t", path: "rootlink" });\ngenrule({ name: "x", tools: [":t"], outs: ["o"], cmd: "cat rootlink/.git/config > $@" });\n',
    });
    const dir = await hb(ws, ["build", "//:x"]);
    expect(dir.exitCode).toBe(1);
    expect(dir.stderr).toContain("toolchain //:t: " + join(ws, "rootlink") + " cannot be shown to actions");
    expect(existsSync(join(ws, "hb-out/o"))).toBe(false);
  });

  it("are out of reach of unsandboxed actions unless the command line allows them (tag no-sandbox, sandbox: none)", async () => {
    const ws = secretWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["o"], tags: ["no-sandbox"], cmd: "echo host > $@" });\n' });
    const refused = await hb(ws, ["build", "//p:x"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("//p:x is tagged no-sandbox: it would run unsandboxed");
    expect(refused.stderr).toContain("--allow-unsandboxed");
    expect(existsSync(join(ws, "hb-out/p/o"))).toBe(false);
    const allowed = await hb(ws, ["build", "//p:x", "--allow-unsandboxed"]);
    expect(allowed.exitCode, allowed.output).toBe(0);
    expect(allowed.stderr).toContain("UNSANDBOXED");
    writeFiles(ws, { "hb.config.ts": 'export default { sandbox: "none" };\n' });
    const config = await hb(ws, ["build", "//p:x"]);
    expect(config.exitCode).toBe(2);
    expect(config.stderr).toContain('"none" only on the command line');
  });

  it("lets labels name sources through a symlinked directory and in node_modules, and names the package a label crosses into", async () => {
    const ws = makeWorkspace({
      "shared/x.txt": "shared\n",
      "p/node_modules/a/b.js": "module\n",
      "p/sub/BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "sub" });\n',
      "p/sub/x.txt": "x\n",
      "p/BUILD.ts":
        G +
        'genrule({ name: "v", srcs: ["vendor/x.txt"], outs: ["o1"], cmd: "cat $(SRCS) > $@" });\n' +
        'genrule({ name: "n", srcs: ["node_modules/a/b.js"], outs: ["o2"], cmd: "cat $(SRCS) > $@" });\n' +
        'genrule({ name: "s", srcs: ["sub/x.txt"], outs: ["o3"], cmd: "cat $(SRCS) > $@" });\n',
    });
    symlinkSync("../shared", join(ws, "p/vendor"));
    expect((await hb(ws, ["build", "//p:v", "//p:n"])).exitCode).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/o1"), "utf8")).toBe("shared\n");
    expect(readFileSync(join(ws, "hb-out/p/o2"), "utf8")).toBe("module\n");
    const s = await hb(ws, ["build", "//p:s"]);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toContain("'//p:sub/x.txt' crosses a package boundary: p/sub/x.txt belongs to //p/sub");
  });

  it("cuts long arguments of a failed action's command, in the log and --report", async () => {
    const long = "x".repeat(5000);
    const ws = makeWorkspace({ "p/BUILD.ts": G + `genrule({ name: "x", outs: ["o"], cmd: "echo ${long} > /dev/null; exit 1" });\n` });
    const r = await hb(ws, ["build", "//p:x", "--report", "r.json"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("more characters)");
    expect(r.stderr).not.toContain(long);
    expect(readFileSync(join(ws, "r.json"), "utf8")).not.toContain(long);
  });
});

describe("--sandbox=none", () => {
  it("is visible and keyed apart from sandboxed results", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["x.txt"], cmd: "echo hi > $@" });\n' });
    const sandboxed = await hb(ws, ["build", "//p:x"]);
    expect(summary(sandboxed).executed).toBe(1);
    const none = await hb(ws, ["build", "//p:x", "--sandbox=none"]);
    expect(none.stderr).toContain("--sandbox=none");
    expect(none.stderr).toContain("UNSANDBOXED");
    expect(summary(none).executed).toBe(1);
    expect(summary(await hb(ws, ["build", "//p:x"])).executed).toBe(0);
  });
});
