import { execa } from "execa";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { openDatabase } from "../packages/core/src/base/database";
import { parseLockfile } from "../packages/core/src/fetch/lockfile";
import { REPO, hb, makeWorkspace, summary, tempDir } from "./helpers";

// External inputs come only through the fetch step, from a server on 127.0.0.1 (no public network
// in tests), pinned by sha256 or lockfile integrity.

let server: Server | undefined;
let requests: string[] = [];
afterEach(() => {
  server?.close();
  server = undefined;
});

async function serve(files: Record<string, Buffer>): Promise<string> {
  requests = [];
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const body = files[req.url ?? ""];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** An npm package tarball, as `npm pack` lays it out (package/...). */
async function tarball(files: Record<string, string>): Promise<Buffer> {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, "package", name, ".."), { recursive: true });
    writeFileSync(join(dir, "package", name), content);
  }
  await execa("tar", ["-czf", "pkg.tgz", "package"], { cwd: dir });
  return readFileSync(join(dir, "pkg.tgz"));
}

const sri = (b: Buffer) => `sha512-${createHash("sha512").update(b).digest("base64")}`;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function npmFixture() {
  const leftPad = await tarball({
    "package.json": '{"name":"left-pad","version":"1.0.0","bin":{"lp":"bin/lp.js"}}',
    "index.js": "module.exports = (s) => '  ' + s;\n",
    "bin/lp.js": "#!/usr/bin/env node\n",
  });
  const inner = await tarball({ "package.json": '{"name":"inner","version":"2.0.0"}', "index.js": "module.exports = 2;\n" });
  const url = await serve({ "/left-pad-1.0.0.tgz": leftPad, "/inner-2.0.0.tgz": inner });
  const lock = {
    name: "app",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "app", dependencies: { "left-pad": "1.0.0" } },
      "node_modules/left-pad": {
        version: "1.0.0",
        resolved: `${url}/left-pad-1.0.0.tgz`,
        integrity: sri(leftPad),
        bin: { lp: "bin/lp.js" },
      },
      "node_modules/left-pad/node_modules/inner": { version: "2.0.0", resolved: `${url}/inner-2.0.0.tgz`, integrity: sri(inner) },
    },
  };
  const ws = makeWorkspace({
    "app/package-lock.json": JSON.stringify(lock, null, 2),
    "app/BUILD.ts":
      'import { genrule } from "@hb/core";\nimport { npm_deps } from "@hb/rules-node";\n' +
      'npm_deps({ name: "deps" });\n' +
      'genrule({ name: "use", srcs: [":deps"], outs: ["seen.txt"], cmd: "cat hb-out/app/node_modules/left-pad/index.js hb-out/app/node_modules/left-pad/node_modules/inner/index.js > $@; readlink hb-out/app/node_modules/.bin/lp >> $@" });\n' +
      'genrule({ name: "sentinel", outs: ["ran.txt"], cmd: "echo ran > $@" });\n',
  });
  return { ws, lock, leftPad, inner, url };
}

describe("npm_deps", () => {
  it("installs a lockfile's packages from the fetch step, then builds offline after the server stops", async () => {
    const { ws } = await npmFixture();
    const r = await hb(ws, ["build", "//app:use"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/app/seen.txt"), "utf8")).toBe(
      "module.exports = (s) => '  ' + s;\nmodule.exports = 2;\n../left-pad/bin/lp.js\n",
    );
    expect(statSync(join(ws, "hb-out/app/node_modules/left-pad/bin/lp.js")).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(ws, "hb-out/app/node_modules/.bin/lp"))).toBe("../left-pad/bin/lp.js");
    const log = readFileSync(join(ws, ".hb/fetch-log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log.map((l) => [l.url.replace(/.*\//, ""), l.result])).toEqual(
      expect.arrayContaining([
        ["left-pad-1.0.0.tgz", "fetched"],
        ["inner-2.0.0.tgz", "fetched"],
      ]),
    );
    expect(log[0]).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: expect.any(Number) });

    server!.close();
    server = undefined;
    // forget every action result and output: the install must re-run, from fetched tarballs only
    const db = openDatabase(join(ws, ".hb/hb.db"));
    db.exec("DELETE FROM action_cache");
    db.close();
    rmSync(join(ws, "hb-out"), { recursive: true });
    const offline = await hb(ws, ["build", "//app:use", "--offline"]);
    expect(offline.exitCode, offline.output).toBe(0);
    expect(summary(offline).executed).toBe(2);
    expect(readFileSync(join(ws, "hb-out/app/seen.txt"), "utf8")).toContain("module.exports = 2;");
  });

  it("refuses a tampered integrity before anything runs", async () => {
    const { ws, lock } = await npmFixture();
    const entry = lock.packages["node_modules/left-pad"];
    entry.integrity = entry.integrity.slice(0, 10) + (entry.integrity[10] === "A" ? "B" : "A") + entry.integrity.slice(11);
    writeFileSync(join(ws, "app/package-lock.json"), JSON.stringify(lock));
    const r = await hb(ws, ["build", "//app:use", "//app:sentinel"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /left-pad-1\.0\.0\.tgz \(for app\/package-lock\.json: node_modules\/left-pad\) does not match its pinned sha512/,
    );
    expect(existsSync(join(ws, "hb-out/app/ran.txt"))).toBe(false);
    expect(readFileSync(join(ws, ".hb/fetch-log.jsonl"), "utf8")).toContain("refused: integrity mismatch");
  });

  it("pins an entry without an integrity on first fetch into hb.lock.json; refuses git sources unless allow-listed", async () => {
    const { ws, lock, leftPad, inner, url } = await npmFixture();
    delete (lock.packages["node_modules/left-pad"] as { integrity?: string }).integrity;
    (lock.packages as Record<string, object>)["node_modules/from-git"] = {
      version: "1.0.0",
      resolved: "git+ssh://git@example.com/x.git#abc",
    };
    writeFileSync(join(ws, "app/package-lock.json"), JSON.stringify(lock));
    const r = await hb(ws, ["build", "//app:use", "//app:sentinel"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("app/package-lock.json has 1 unpinned entry");
    expect(r.stderr).toContain("node_modules/from-git: source git+ssh://git@example.com/x.git#abc is not a registry tarball");
    expect(r.stderr).toContain("npm: { allowUnpinned: [...] }");
    expect(existsSync(join(ws, "hb-out/app/ran.txt"))).toBe(false);
    expect(existsSync(join(ws, "hb.lock.json"))).toBe(false);
    writeFileSync(join(ws, "hb.config.ts"), 'export default { npm: { allowUnpinned: ["from-git"] } };\n');
    // CI's way: pin nothing, fail on what hb.lock.json does not pin
    for (const command of [
      ["fetch", "--locked", "//app:use"],
      ["build", "--locked", "//app:use"],
    ]) {
      const locked = await hb(ws, command);
      expect(locked.exitCode, locked.output).toBe(2);
      expect(locked.stderr).toContain(
        "1 npm tarball(s) have no integrity in their lockfile and no pin in hb.lock.json (--locked pins nothing): app/package-lock.json: node_modules/left-pad",
      );
      expect(existsSync(join(ws, "hb.lock.json"))).toBe(false);
    }
    const pinned = await hb(ws, ["build", "//app:use"]);
    expect(pinned.exitCode, pinned.output).toBe(0);
    expect(pinned.stderr).toContain(
      "WARNING: pinned 1 npm tarball(s) that the lockfile gives no integrity by the sha512 of this first fetch, into hb.lock.json",
    );
    expect(JSON.parse(readFileSync(join(ws, "hb.lock.json"), "utf8"))).toEqual({
      version: 1,
      npm: { [`${url}/left-pad-1.0.0.tgz`]: sri(leftPad) },
    });
    expect(readFileSync(join(ws, ".hb/fetch-log.jsonl"), "utf8")).toContain("fetched, pinned on first fetch into hb.lock.json");
    const again = await hb(ws, ["build", "--locked", "//app:use"]);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stderr).not.toContain("pinned");
    expect(summary(again).executed).toBe(0);
    // a pin edited in review is seen by the next build, whose npm_install key it enters: no no-op
    const pins = readFileSync(join(ws, "hb.lock.json"), "utf8");
    writeFileSync(join(ws, "hb.lock.json"), pins.replace(sri(leftPad), sri(inner)));
    const edited = await hb(ws, ["build", "--locked", "//app:use"]);
    expect(edited.exitCode, edited.output).toBe(1);
    expect(edited.stderr).toMatch(/left-pad-1\.0\.0\.tgz .* does not match its pinned sha512/);
    writeFileSync(join(ws, "hb.lock.json"), pins);
    expect((await hb(ws, ["build", "--locked", "//app:use"])).exitCode).toBe(0);

    // another machine (a fresh output base) fetching other bytes for the pinned URL fails, naming the package
    server!.close();
    const tampered = await tarball({ "package.json": '{"name":"left-pad","version":"1.0.0"}', "index.js": "evil();\n" });
    const url2 = await serve({ "/left-pad-1.0.0.tgz": tampered, "/inner-2.0.0.tgz": inner });
    expect(url2).not.toBe(url);
    const moved = url.replace(/:\d+$/, `:${new URL(url2).port}`);
    writeFileSync(join(ws, "app/package-lock.json"), JSON.stringify(lock).replaceAll(url, moved));
    writeFileSync(join(ws, "hb.lock.json"), readFileSync(join(ws, "hb.lock.json"), "utf8").replaceAll(url, moved));
    const other = await hb(ws, ["build", "//app:use", "--output-base", join(ws, ".hb2")]);
    expect(other.exitCode, other.output).toBe(1);
    expect(other.stderr).toMatch(
      /left-pad-1\.0\.0\.tgz \(for app\/package-lock\.json: node_modules\/left-pad\) does not match its pinned sha512/,
    );
  });

  it("installs only the optional packages for this os, cpu and libc, as npm does", async () => {
    const mine = await tarball({ "package.json": '{"name":"@x/native-here","version":"1.0.0"}', "index.js": "module.exports = 'here';\n" });
    const other = await tarball({ "package.json": '{"name":"@x/native-there","version":"1.0.0"}' });
    const url = await serve({ "/here.tgz": mine, "/there.tgz": other, "/musl.tgz": other });
    const lock = {
      lockfileVersion: 3,
      packages: {
        "": {},
        "node_modules/@x/native-here": {
          version: "1.0.0",
          resolved: `${url}/here.tgz`,
          integrity: sri(mine),
          optional: true,
          os: [process.platform],
          cpu: [process.arch],
          libc: ["glibc"],
        },
        "node_modules/@x/native-there": {
          version: "1.0.0",
          resolved: `${url}/there.tgz`,
          integrity: sri(other),
          optional: true,
          os: ["darwin"],
          cpu: ["arm64"],
        },
        "node_modules/@x/native-musl": {
          version: "1.0.0",
          resolved: `${url}/musl.tgz`,
          integrity: sri(other),
          optional: true,
          os: ["linux"],
          libc: ["musl"],
        },
      },
    };
    const ws = makeWorkspace({
      "package-lock.json": JSON.stringify(lock),
      "BUILD.ts": 'import { npm_deps } from "@hb/rules-node";\nnpm_deps({ name: "deps" });\n',
    });
    const r = await hb(ws, ["build", "//:deps"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readdirSync(join(ws, "hb-out/node_modules/@x"))).toEqual(["native-here"]);
    expect(requests).toEqual(["/here.tgz"]);
  });
});

describe("npm_deps in a workspace", () => {
  it("lays out the root's tree and a workspace package's nested one where their sources resolve them, with workspace links", async () => {
    const leftPad = await tarball({
      "package.json": '{"name":"left-pad","version":"1.0.0","main":"index.js"}',
      "index.js": "module.exports = 'left-pad 1';\n",
    });
    const leftPad2 = await tarball({
      "package.json": '{"name":"left-pad","version":"2.0.0","main":"index.js"}',
      "index.js": "module.exports = 'left-pad 2';\n",
    });
    const url = await serve({ "/lp1.tgz": leftPad, "/lp2.tgz": leftPad2 });
    const lock = {
      lockfileVersion: 3,
      packages: {
        "": { name: "root", workspaces: ["packages/*"] },
        "node_modules/left-pad": { version: "1.0.0", resolved: `${url}/lp1.tgz`, integrity: sri(leftPad) },
        "node_modules/@ws/server": { resolved: "packages/server", link: true },
        "packages/server": { name: "@ws/server", version: "0.1.0", bin: { serve: "bin.js" } },
        "packages/server/node_modules/left-pad": { version: "2.0.0", resolved: `${url}/lp2.tgz`, integrity: sri(leftPad2) },
      },
    };
    const G = 'import { genrule } from "@hb/core";\nimport { npm_deps } from "@hb/rules-node";\n';
    const ws = makeWorkspace({
      "package-lock.json": JSON.stringify(lock),
      "BUILD.ts": G + 'npm_deps({ name: "node_modules" });\n',
      "packages/server/package.json": '{ "name": "@ws/server", "version": "0.1.0", "main": "main.js" }',
      "packages/server/main.js": "module.exports = 'server uses ' + require('left-pad');\n",
      "packages/server/BUILD.ts":
        G +
        'npm_deps({ name: "node_modules", lockfile: "//:package-lock.json" });\n' +
        'genrule({ name: "run", srcs: ["main.js", "package.json", ":node_modules", "//:node_modules", "app.js"], outs: ["out.txt"], cmd: "node packages/server/app.js > $@" });\n',
      "packages/server/app.js":
        "console.log(require('left-pad'));\nconsole.log(require('@ws/server'));\nconsole.log(require('fs').readlinkSync(require('path').join(__dirname, '../../node_modules/.bin/serve')));\n",
    });
    const r = await hb(ws, ["build", "//packages/server:run"]);
    expect(r.exitCode, r.output).toBe(0);
    // the package's own left-pad (2) beside its sources, the root's link to the package, resolved as node does
    expect(readFileSync(join(ws, "hb-out/packages/server/out.txt"), "utf8")).toBe(
      "left-pad 2\nserver uses left-pad 2\n../@ws/server/bin.js\n",
    );
    expect(readlinkSync(join(ws, "hb-out/node_modules/@ws/server"))).toBe("../../packages/server");
    expect(readdirSync(join(ws, "packages/server")).sort()).toEqual(["BUILD.ts", "app.js", "main.js", "package.json"]);
  });
});

describe("npm_deps from pnpm-lock.yaml", () => {
  it("lays out pnpm's store once, each importer's links into it, workspace links and bins", async () => {
    const dep = await tarball({
      "package.json": '{"name":"dep","version":"1.0.0"}',
      "index.js": "module.exports = 'dep with ' + require('sub');\n",
    });
    const sub = await tarball({ "package.json": '{"name":"sub","version":"2.0.0"}', "index.js": "module.exports = 'sub 2';\n" });
    const tool = await tarball({
      "package.json": '{"name":"tool","version":"1.0.0","bin":{"tool":"cli.js"}}',
      "cli.js": "#!/usr/bin/env node\n",
    });
    const url = await serve({ "/dep/-/dep-1.0.0.tgz": dep, "/sub/-/sub-2.0.0.tgz": sub, "/tool/-/tool-1.0.0.tgz": tool });
    const lock = [
      "lockfileVersion: '9.0'",
      "importers:",
      "  .:",
      "    devDependencies:",
      "      tool: { specifier: ^1.0.0, version: 1.0.0 }",
      "  packages/a:",
      "    dependencies:",
      "      b: { specifier: 'workspace:*', version: 'link:../b' }",
      "      dep: { specifier: ^1.0.0, version: 1.0.0 }",
      "  packages/b: {}",
      "packages:",
      `  dep@1.0.0: { resolution: { integrity: '${sri(dep)}' } }`,
      `  sub@2.0.0: { resolution: { integrity: '${sri(sub)}' } }`,
      `  tool@1.0.0: { resolution: { integrity: '${sri(tool)}' }, hasBin: true }`,
      "snapshots:",
      "  dep@1.0.0: { dependencies: { sub: 2.0.0 } }",
      "  sub@2.0.0: {}",
      "  tool@1.0.0: {}",
      "",
    ].join("\n");
    const D = 'import { genrule } from "@hb/core";\nimport { npm_deps } from "@hb/rules-node";\n';
    const ws = makeWorkspace(
      {
        "pnpm-lock.yaml": lock,
        "BUILD.ts": D + 'npm_deps({ name: "node_modules", lockfile: "pnpm-lock.yaml" });\n',
        "packages/b/BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "b", srcs: ["package.json", "index.js"] });\n',
        "packages/b/package.json": '{ "name": "b", "main": "index.js" }',
        "packages/b/index.js": "module.exports = 'b';\n",
        "packages/a/BUILD.ts":
          D +
          'npm_deps({ name: "node_modules", lockfile: "//:pnpm-lock.yaml" });\n' +
          'genrule({ name: "run", srcs: ["a.js", ":node_modules", "//:node_modules", "//packages/b"], outs: ["out.txt"], cmd: "node packages/a/a.js > $@; readlink node_modules/.bin/tool >> $@" });\n',
        "packages/a/a.js": "console.log(require('dep'));\nconsole.log(require('b'));\n",
      },
      `export default { npm: { registry: "${url}" } };\n`,
    );
    const r = await hb(ws, ["build", "//packages/a:run"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/packages/a/out.txt"), "utf8")).toBe("dep with sub 2\nb\n../tool/cli.js\n");
    expect(readlinkSync(join(ws, "hb-out/packages/a/node_modules/dep"))).toBe("../../../node_modules/.pnpm/dep@1.0.0/node_modules/dep");
    expect(readlinkSync(join(ws, "hb-out/node_modules/.pnpm/dep@1.0.0/node_modules/sub"))).toBe("../../sub@2.0.0/node_modules/sub");
    expect(requests.sort()).toEqual(["/dep/-/dep-1.0.0.tgz", "/sub/-/sub-2.0.0.tgz", "/tool/-/tool-1.0.0.tgz"]);
  });
});

describe("npm_deps install scripts", () => {
  it("run only for the packages named in run_scripts, sandboxed and without network", async () => {
    const scripts = {
      install: "node -e \"require('fs').writeFileSync('built.txt', 'built by ' + process.env.npm_lifecycle_event)\"",
      postinstall: "if (exec 3<>/dev/tcp/10.1.1.1/80) 2>/dev/null; then echo online > net.txt; else echo offline > net.txt; fi",
    };
    const scripted = await tarball({ "package.json": JSON.stringify({ name: "native", version: "1.0.0", scripts }) });
    const url = await serve({ "/native-1.0.0.tgz": scripted });
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        "": {},
        "node_modules/native": { version: "1.0.0", resolved: `${url}/native-1.0.0.tgz`, integrity: sri(scripted), hasInstallScript: true },
      },
    });
    const ws = makeWorkspace({
      "plain/package-lock.json": lock,
      "plain/BUILD.ts": 'import { npm_deps } from "@hb/rules-node";\nnpm_deps({ name: "deps" });\n',
      "scripted/package-lock.json": lock,
      "scripted/BUILD.ts": 'import { npm_deps } from "@hb/rules-node";\nnpm_deps({ name: "deps", run_scripts: ["native"] });\n',
    });
    const r = await hb(ws, ["build", "//plain:deps", "//scripted:deps"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/scripted/node_modules/native/built.txt"), "utf8")).toBe("built by install");
    expect(readFileSync(join(ws, "hb-out/scripted/node_modules/native/net.txt"), "utf8")).toBe("offline\n");
    expect(existsSync(join(ws, "hb-out/plain/node_modules/native/package.json"))).toBe(true);
    expect(existsSync(join(ws, "hb-out/plain/node_modules/native/built.txt"))).toBe(false);
  });
});

describe("http_file and hb fetch", () => {
  it("fetches a pinned file with hb fetch, then builds offline; a wrong pin is refused", async () => {
    const data = Buffer.from("external data\n");
    const url = await serve({ "/data.txt": data });
    const ws = makeWorkspace({
      "p/BUILD.ts":
        `import { genrule, http_file } from "@hb/core";\nhttp_file({ name: "data", url: "${url}/data.txt", sha256: "${sha256(data)}" });\n` +
        'genrule({ name: "use", srcs: [":data"], outs: ["copy.txt"], cmd: "cp $< $@" });\n',
    });
    const f = await hb(ws, ["fetch", "//p:use"]);
    expect(f.exitCode, f.output).toBe(0);
    expect(f.stderr).toContain("hb: fetched 1 (14 bytes), 0 already present");
    server!.close();
    server = undefined;
    const b = await hb(ws, ["build", "//p:use", "--offline"]);
    expect(b.exitCode, b.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/p/copy.txt"), "utf8")).toBe("external data\n");
    expect(readFileSync(join(ws, "hb-out/p/data/data.txt"), "utf8")).toBe("external data\n");

    const url2 = await serve({ "/data.txt": Buffer.from("something else\n") });
    writeFileSync(join(ws, "p/BUILD.ts"), readFileSync(join(ws, "p/BUILD.ts"), "utf8").replace(url, url2));
    const wrong = await hb(ws, ["build", "//p:use"]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain(
      `does not match its pinned sha256: expected ${sha256(data)}, got ${sha256(Buffer.from("something else\n"))}`,
    );
    const offline = await hb(ws, ["build", "//p:use", "--offline"]);
    expect(offline.exitCode).toBe(1);
    expect(offline.stderr).toContain("not fetched yet");
    expect(requests).toEqual(["/data.txt"]);
  });

  it("hb verify --offline reuses the workspace's fetched inputs: nothing is downloaded again", async () => {
    const data = Buffer.from("verified data\n");
    const url = await serve({ "/data.txt": data });
    const ws = makeWorkspace({
      "p/BUILD.ts":
        `import { genrule, http_file } from "@hb/core";\nhttp_file({ name: "data", url: "${url}/data.txt", sha256: "${sha256(data)}" });\n` +
        'genrule({ name: "use", srcs: [":data"], outs: ["copy.txt"], cmd: "cp $< $@" });\n',
    });
    const unfetched = await hb(ws, ["verify", "//p:use", "--offline"]);
    expect(unfetched.exitCode, unfetched.output).toBe(1);
    expect(unfetched.stderr).toMatch(/--offline: .*\/data\.txt \(for \/\/p:data\) is not fetched in this workspace/);
    expect(requests).toEqual([]);
    expect((await hb(ws, ["fetch", "//p:use"])).exitCode).toBe(0);
    expect(requests).toEqual(["/data.txt"]);
    const offline = await hb(ws, ["verify", "//p:use", "--offline", "--report", "v.json"]);
    expect(offline.exitCode, offline.output).toBe(0);
    expect(JSON.parse(readFileSync(join(ws, "v.json"), "utf8"))).toMatchObject({ reproducible: 1, total: 1 });
    expect(requests).toEqual(["/data.txt"]);
    // without it, each run fetches for itself, as a machine of its own would
    expect((await hb(ws, ["verify", "//p:use"])).exitCode).toBe(0);
    expect(requests).toEqual(["/data.txt", "/data.txt", "/data.txt"]);
  });
});

describe("the rules resolve npm_deps and workspace packages", () => {
  it("esbuild in node_binary and node_test, and vitest, resolve a bare import from the tree, a workspace package through its link, and a module_name", async () => {
    const leftPad = await tarball({
      "package.json": '{"name":"left-pad","version":"1.0.0","main":"index.js"}',
      "index.js": "module.exports = (s) => '[' + s + ']';\n",
    });
    const url = await serve({ "/lp1.tgz": leftPad });
    const lock = {
      lockfileVersion: 3,
      packages: {
        "": { name: "root", workspaces: ["packages/*"] },
        "node_modules/left-pad": { version: "1.0.0", resolved: `${url}/lp1.tgz`, integrity: sri(leftPad) },
        "node_modules/@ws/lib": { resolved: "packages/lib", link: true },
        "packages/lib": { name: "@ws/lib", version: "0.1.0" },
      },
    };
    const esbuildSha = /sha256: "([0-9a-f]{64})"/.exec(readFileSync(join(REPO, "tools/BUILD.ts"), "utf8"))![1]!;
    const deps = '["//:node_modules", "//packages/lib", "//packages/lib:package"]';
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "@hb/core";\nimport { esbuild_toolchain } from "@hb/rules-node";\n' +
        `esbuild_toolchain({ name: "esbuild", path: "${REPO}/node_modules/@esbuild/linux-x64/bin/esbuild", sha256: "${esbuildSha}" });\n` +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n' +
        `local_toolchain({ name: "node_modules", path: "${REPO}/node_modules" });\n`,
      "package-lock.json": JSON.stringify(lock),
      "BUILD.ts": 'import { npm_deps } from "@hb/rules-node";\nnpm_deps({ name: "node_modules" });\n',
      // the workspace package's entry point is its build output, beside its sources in the sandbox
      "packages/lib/package.json": '{ "name": "@ws/lib", "version": "0.1.0", "type": "module", "main": "lib.js" }',
      "packages/lib/index.ts": 'import pad from "left-pad";\nexport const hello = (s: string): string => pad("hello " + s);\n',
      "packages/lib/BUILD.ts":
        'import { filegroup } from "@hb/core";\nimport { esbuild } from "@hb/rules-node";\n' +
        'esbuild({ name: "lib", srcs: ["index.ts"], entry: "index.ts", deps: ["//:node_modules"], external: ["left-pad"] });\n' +
        'filegroup({ name: "package", srcs: ["package.json"] });\n' +
        // imported by its module_name, which both runners alias to the bundle
        'esbuild({ name: "named", srcs: ["index.ts"], entry: "index.ts", deps: ["//:node_modules"], module_name: "@ws/named" });\n',
      "packages/app/main.ts": 'import pad from "left-pad";\nimport { hello } from "@ws/lib";\nconsole.log(pad(hello("app")));\n',
      "packages/app/app.test.ts":
        'import { test } from "node:test";\nimport { strictEqual } from "node:assert";\nimport { hello } from "@ws/lib";\n' +
        'test("hello", () => strictEqual(hello("test"), "[hello test]"));\n',
      "packages/app/BUILD.ts":
        'import { node_binary, node_test } from "@hb/rules-node";\n' +
        `node_binary({ name: "app", entry: "main.ts", srcs: ["main.ts"], deps: ${deps} });\n` +
        `node_test({ name: "test", srcs: ["app.test.ts"], deps: ${deps} });\n` +
        `node_test({ name: "vitest", runner: "vitest", srcs: ["vi.test.ts"], deps: [...${deps}, "//packages/lib:named"], vitest_config: "vitest.config.mjs" });\n`,
      // the user's config, a function of the env, still applies beside the aliases
      "packages/app/vitest.config.mjs": 'export default () => ({ define: { __MARK__: JSON.stringify("mark") } });\n',
      "packages/app/vi.test.ts":
        'import { expect, test } from "vitest";\nimport pad from "left-pad";\nimport { hello } from "@ws/lib";\nimport { hello as named } from "@ws/named";\n' +
        'test("hello", () => expect(pad(hello("vitest")) + named("too") + __MARK__).toBe("[[hello vitest]][hello too]mark"));\n',
    });
    const b = await hb(ws, ["build", "//packages/app:app"]);
    expect(b.exitCode, b.output).toBe(0);
    const run = await execa("node", [join(ws, "hb-out/packages/app/app.mjs")], { reject: false });
    expect(run.stdout).toBe("[[hello app]]");
    const t = await hb(ws, ["test", "//packages/app:test", "//packages/app:vitest"]);
    expect(t.exitCode, t.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/packages/app/test.test.log"), "utf8")).toContain("# pass 1");
    const vitestLog = readFileSync(join(ws, "hb-out/packages/app/vitest.test.log"), "utf8").replace(/\x1b\[[0-9;]*m/g, "");
    expect(vitestLog).toMatch(/Tests\s+1 passed/);
  });
});

describe("npm_deps from yarn.lock", () => {
  it("lays out an importer's tree hoisted as yarn's node-modules linker does, pinning every tarball on first fetch", async () => {
    const dep = await tarball({
      "package.json": '{"name":"dep","version":"1.0.0"}',
      "index.js": "module.exports = 'dep with ' + require('sub');\n",
    });
    const sub1 = await tarball({ "package.json": '{"name":"sub","version":"1.0.0"}', "index.js": "module.exports = 'sub 1';\n" });
    const sub2 = await tarball({ "package.json": '{"name":"sub","version":"2.0.0"}', "index.js": "module.exports = 'sub 2';\n" });
    const tool = await tarball({
      "package.json": '{"name":"tool","version":"1.0.0","bin":{"tool":"cli.js"}}',
      "cli.js": "#!/usr/bin/env node\n",
    });
    const url = await serve({
      "/dep/-/dep-1.0.0.tgz": dep,
      "/sub/-/sub-1.0.0.tgz": sub1,
      "/sub/-/sub-2.0.0.tgz": sub2,
      "/tool/-/tool-1.0.0.tgz": tool,
    });
    const lock = [
      "__metadata:",
      "  version: 8",
      "  cacheKey: 10c0",
      "",
      '"a@workspace:packages/a":',
      "  version: 0.0.0-use.local",
      '  resolution: "a@workspace:packages/a"',
      "  dependencies:",
      '    b: "workspace:^"',
      '    dep: "npm:^1.0.0"',
      '    native-mac: "npm:1.0.0"',
      '    sub: "npm:^1.0.0"',
      '    tool: "patch:tool@npm%3A^1.0.0#optional!builtin<compat/tool>"',
      "  dependenciesMeta:",
      "    native-mac:",
      "      optional: true",
      "  languageName: unknown",
      "  linkType: soft",
      "",
      '"b@workspace:^, b@workspace:packages/b":',
      "  version: 0.0.0-use.local",
      '  resolution: "b@workspace:packages/b"',
      "  languageName: unknown",
      "  linkType: soft",
      "",
      '"dep@npm:^1.0.0":',
      "  version: 1.0.0",
      '  resolution: "dep@npm:1.0.0"',
      "  dependencies:",
      '    sub: "npm:^2.0.0"',
      "  checksum: 10c0/abc",
      "  languageName: node",
      "  linkType: hard",
      "",
      '"native-mac@npm:1.0.0":',
      "  version: 1.0.0",
      '  resolution: "native-mac@npm:1.0.0"',
      "  conditions: os=darwin & cpu=arm64",
      "  languageName: node",
      "  linkType: hard",
      "",
      '"root@workspace:.":',
      "  version: 0.0.0-use.local",
      '  resolution: "root@workspace:."',
      "  languageName: unknown",
      "  linkType: soft",
      "",
      '"sub@npm:^1.0.0":',
      "  version: 1.0.0",
      '  resolution: "sub@npm:1.0.0"',
      "  languageName: node",
      "  linkType: hard",
      "",
      '"sub@npm:^2.0.0":',
      "  version: 2.0.0",
      '  resolution: "sub@npm:2.0.0"',
      "  languageName: node",
      "  linkType: hard",
      "",
      '"tool@npm:^1.0.0":',
      "  version: 1.0.0",
      '  resolution: "tool@npm:1.0.0"',
      "  bin:",
      "    tool: cli.js",
      "  languageName: node",
      "  linkType: hard",
      "",
      '"tool@patch:tool@npm%3A^1.0.0#optional!builtin<compat/tool>":',
      "  version: 1.0.0",
      '  resolution: "tool@patch:tool@npm%3A1.0.0#optional!builtin<compat/tool>::version=1.0.0&hash=abc"',
      "  bin:",
      "    tool: cli.js",
      "  languageName: node",
      "  linkType: hard",
      "",
    ].join("\n");
    const D = 'import { genrule } from "@hb/core";\nimport { npm_deps } from "@hb/rules-node";\n';
    const ws = makeWorkspace(
      {
        "yarn.lock": lock,
        "BUILD.ts": "",
        "packages/b/BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "b", srcs: ["package.json", "index.js"] });\n',
        "packages/b/package.json": '{ "name": "b", "main": "index.js" }',
        "packages/b/index.js": "module.exports = 'b';\n",
        "packages/a/BUILD.ts":
          D +
          'npm_deps({ name: "node_modules", lockfile: "//:yarn.lock" });\n' +
          'genrule({ name: "run", srcs: ["a.js", ":node_modules", "//packages/b"], outs: ["out.txt"], cmd: "node packages/a/a.js > $@; readlink packages/a/node_modules/.bin/tool >> $@" });\n',
        "packages/a/a.js": "console.log(require('dep'));\nconsole.log(require('sub'));\nconsole.log(require('b'));\n",
      },
      `export default { npm: { registry: "${url}" } };\n`,
    );
    const r = await hb(ws, ["build", "//packages/a:run"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain("WARNING: pinned 4 npm tarball(s)");
    // a's own sub is 1, hoisted; dep's is 2, nested under it; the other platform's package left out
    expect(readFileSync(join(ws, "hb-out/packages/a/out.txt"), "utf8")).toBe("dep with sub 2\nsub 1\nb\n../tool/cli.js\n");
    expect(readdirSync(join(ws, "hb-out/packages/a/node_modules")).sort()).toEqual([".bin", "b", "dep", "sub", "tool"]);
    expect(readdirSync(join(ws, "hb-out/packages/a/node_modules/dep/node_modules"))).toEqual(["sub"]);
    expect(readlinkSync(join(ws, "hb-out/packages/a/node_modules/b"))).toBe("../../b");
    expect(Object.keys(JSON.parse(readFileSync(join(ws, "hb.lock.json"), "utf8")).npm)).toHaveLength(4);
    expect(requests.sort()).toEqual(["/dep/-/dep-1.0.0.tgz", "/sub/-/sub-1.0.0.tgz", "/sub/-/sub-2.0.0.tgz", "/tool/-/tool-1.0.0.tgz"]);

    writeFileSync(join(ws, "yarn.lock"), "# yarn lockfile v1\n\n");
    const v1 = await hb(ws, ["build", "//packages/a:run"]);
    expect(v1.exitCode).toBe(2);
    expect(v1.stderr).toContain("yarn.lock is yarn 1's lockfile, which does not say which workspace package needs what");
  });
});

describe("the tools rules run from an npm_deps tree", () => {
  /**
   * Packages and what they need, as npm_deps fetches them: each installed package of this
   * repository's node_modules packed as a tarball, with package-lock.json's entries for them.
   */
  async function packedLock(roots: readonly string[]): Promise<{ lock: object; files: Record<string, Buffer> }> {
    type Entry = {
      version: string;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    const all = (JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, Entry> }).packages;
    // node's lookup: the package's own node_modules, then its parents'
    const locate = (from: string, dep: string): string | undefined => {
      for (let p = from; ; p = p.slice(0, Math.max(0, p.lastIndexOf("/node_modules/")))) {
        const at = p ? `${p}/node_modules/${dep}` : `node_modules/${dep}`;
        if (all[at]) return at;
        if (!p) return undefined;
      }
    };
    const closure = new Set<string>();
    const visit = (path: string) => {
      if (closure.has(path) || !existsSync(join(REPO, path))) return;
      closure.add(path);
      const e = all[path]!;
      const peers = Object.keys(e.peerDependencies ?? {}).filter((p) => !e.peerDependenciesMeta?.[p]?.optional);
      for (const dep of [...Object.keys({ ...e.dependencies, ...e.optionalDependencies }), ...peers]) {
        const at = locate(path, dep);
        if (at) visit(at);
      }
    };
    for (const root of roots) visit(root);
    const files: Record<string, Buffer> = {};
    const packages: Record<string, object> = { "": {} };
    const dir = tempDir();
    for (const [i, path] of [...closure].sort().entries()) {
      const out = join(dir, `${i}.tgz`);
      const base = path.slice(path.lastIndexOf("/") + 1);
      // as npm pack lays a package out (package/...), without what is installed inside it
      await execa("tar", ["-czf", out, "--exclude=node_modules", "-C", join(REPO, path, ".."), `--transform=s,^${base},package,`, base]);
      const bytes = readFileSync(out);
      files[`/${i}.tgz`] = bytes;
      // resolved from the test's server, whose address the test puts in front
      packages[path] = { ...all[path], resolved: `/${i}.tgz`, integrity: sri(bytes) };
    }
    return { lock: { lockfileVersion: 3, packages }, files };
  }

  it("runs vitest and tsc from the lockfile's tree, as the project's own commands would", async () => {
    const { lock, files } = await packedLock(["node_modules/vitest", "node_modules/typescript"]);
    const url = await serve(files);
    const text = JSON.stringify(lock).replace(/"resolved":"\//g, `"resolved":"${url}/`);
    const esbuildSha = /sha256: "([0-9a-f]{64})"/.exec(readFileSync(join(REPO, "tools/BUILD.ts"), "utf8"))![1]!;
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "@hb/core";\nimport { esbuild_toolchain } from "@hb/rules-node";\n' +
        `esbuild_toolchain({ name: "esbuild", path: "${REPO}/node_modules/@esbuild/linux-x64/bin/esbuild", sha256: "${esbuildSha}" });\n` +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n',
      "package-lock.json": text,
      "sum.test.ts": 'import { expect, test } from "vitest";\ntest("sum", () => expect(1 + 2).toBe(3));\n',
      "BUILD.ts":
        'import { node_test, npm_deps, ts_check, ts_project } from "@hb/rules-node";\nnpm_deps({ name: "node_modules" });\n' +
        'node_test({ name: "test", runner: "vitest", srcs: ["sum.test.ts"], vitest: ":node_modules" });\n' +
        'ts_check({ name: "check", srcs: ["sum.ts"], tsconfig: "tsconfig.json", typescript: ":node_modules" });\n' +
        'ts_project({ name: "lib", srcs: ["sum.ts"], typescript: ":node_modules" });\n',
      "sum.ts": "export const sum = (a: number, b: number): number => a + b;\n",
      "tsconfig.json": JSON.stringify({ compilerOptions: { strict: true, declaration: true, types: [] }, files: ["sum.ts"] }),
    });
    const t = await hb(ws, ["test", "//:test", "//:check"]);
    expect(t.exitCode, t.output).toBe(0);
    expect(t.stderr).toContain("hb: 2 tests: 2 passed");
    const b = await hb(ws, ["build", "//:lib"]);
    expect(b.exitCode, b.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/dist/sum.d.ts"), "utf8")).toContain("export declare const sum");
    const log = readFileSync(join(ws, "hb-out/test.test.log"), "utf8").replace(/\x1b\[[0-9;]*m/g, "");
    expect(log).toMatch(/Tests\s+1 passed/);
  });
});

describe("real lockfiles", () => {
  // the snapshots beside the repository (../shared/realworld; a worktree sits a level deeper)
  const realworld = [join(REPO, "../shared/realworld"), join(REPO, "../../shared/realworld")].find((d) => existsSync(d)) ?? "";
  const linux = {
    registry: "https://registry.npmjs.org",
    allowUnpinned: [],
    pins: new Map(),
    platform: { os: "linux", cpu: "x64", libc: "glibc" },
  };
  async function extract(archive: string, file: string): Promise<string> {
    const dir = tempDir();
    await execa("tar", ["xzf", join(realworld, archive), "-C", dir, file]);
    return readFileSync(join(dir, file), "utf8");
  }

  it.skipIf(realworld === "")("reads apollo-server's package-lock.json and changesets' pnpm-lock.yaml for every importer", async () => {
    const npm = await extract("apollo-server-4f154060bbe5.tar.gz", "apollo-server/package-lock.json");
    const root = parseLockfile(npm, "package-lock.json", linux, "");
    // 605 entries without an integrity are pinned on first fetch, not refused; 41 other platforms' optional packages left out
    expect([root.packages.length, root.links.length, root.skipped.length]).toEqual([1202, 6, 41]);
    expect(root.packages.filter((p) => p.integrity === "")).toHaveLength(605);
    // a workspace package's own nested entries (packages/server/node_modules/...)
    expect(parseLockfile(npm, "package-lock.json", linux, "packages/server").packages.map((p) => p.path)).toHaveLength(5);
    const workspaces = Object.keys(JSON.parse(npm).packages).filter((k) => k !== "" && !k.includes("node_modules/"));
    for (const w of workspaces) expect(() => parseLockfile(npm, "package-lock.json", linux, w), w).not.toThrow();

    const pnpm = await extract("changesets-5322174b2722.tar.gz", "changesets/pnpm-lock.yaml");
    const store = parseLockfile(pnpm, "pnpm-lock.yaml", linux, "");
    expect(store.packages.length).toBe(387);
    expect(store.packages.every((p) => p.path.startsWith("node_modules/.pnpm/") && p.integrity.startsWith("sha512-"))).toBe(true);
    const importer = parseLockfile(pnpm, "pnpm-lock.yaml", linux, "packages/apply-release-plan");
    expect(importer.packages).toEqual([]);
    expect(importer.links.length).toBe(11);
    const importers = Object.keys((parseYaml(pnpm) as { importers: object }).importers);
    expect(importers).toHaveLength(24);
    for (const i of importers) expect(() => parseLockfile(pnpm, "pnpm-lock.yaml", linux, i === "." ? "" : i), i).not.toThrow();
  });
});
