import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer, writeTokens } from "../packages/cache-server/src/testing/server";
import { loadPrivateKey } from "../packages/core/src/base/keys";
import { signAcEntry } from "../packages/core/src/caching/remote/ac-entry";
import { hb, makeWorkspace, summary, tempDir } from "./helpers";

// Two workspaces (two output bases) share one real server on 127.0.0.1. CI uploads signed
// entries; a developer trusting CI's key builds from them. Every attack must leave the build
// correct: refused, counted, rebuilt locally.

const G = 'import { genrule } from "@hb/core";\n';
const FILES = {
  "a/BUILD.ts": G + 'genrule({ name: "a", srcs: ["a.txt"], outs: ["a.out"], cmd: "tr a-z A-Z < $< > $@" });\n',
  "a/a.txt": "remote\n",
  "b/BUILD.ts": G + 'genrule({ name: "b", srcs: ["//a"], outs: ["b.out"], cmd: "(cat $<; echo b) > $@" });\n',
};

let servers: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function server(tokens?: unknown): Promise<TestServer> {
  const s = await startTestServer(tokens ? { tokensFile: writeTokens(tempDir(), tokens) } : {});
  servers.push(s);
  return s;
}

async function keys(dir: string, name: string): Promise<string> {
  expect((await hb(dir, ["keygen", "--out", name])).exitCode).toBe(0);
  return join(dir, name);
}

function report(ws: string) {
  return JSON.parse(readFileSync(join(ws, "report.json"), "utf8"));
}

const upload = (url: string, ci: string, extra: string[] = []) => [
  "build",
  "//...",
  "--remote-cache",
  url,
  "--remote-upload",
  "--signing-key",
  join(ci, "private.pem"),
  "--report",
  "report.json",
  ...extra,
];
const read = (url: string, trusted: string, extra: string[] = []) => [
  "build",
  "//...",
  "--remote-cache",
  url,
  "--trusted-key",
  trusted,
  "--report",
  "report.json",
  ...extra,
];

describe("remote cache", () => {
  it("lets a second workspace build everything from the first one's uploads, with identical digests", async () => {
    const s = await server();
    const ci = makeWorkspace(FILES);
    const ciKeys = await keys(ci, "keys");
    const first = await hb(ci, upload(s.url, ciKeys));
    expect(first.exitCode, first.output).toBe(0);
    expect(report(ci).remote).toMatchObject({ uploads: 2, misses: 2 });
    expect(first.stderr).not.toContain("uploaded nothing");
    // run again, everything is a local hit: nothing to upload, and it says why
    const again = await hb(ci, upload(s.url, ciKeys));
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stderr).toContain(
      "hb: --remote-upload uploaded nothing: every action was cached (2 local, 0 remote), and hb uploads only the results it runs",
    );

    const dev = makeWorkspace(FILES);
    const second = await hb(dev, read(s.url, join(ciKeys, "public.pem")));
    expect(second.exitCode, second.output).toBe(0);
    expect(summary(second)).toEqual({ actions: 2, executed: 0, cached: 2, failed: 0 });
    expect(report(dev).cached).toEqual({ local: 0, remote: 2 });
    expect(report(dev).remote).toMatchObject({ hits: 2, rejected: {} });
    expect(report(dev).targets).toEqual(report(ci).targets);
    expect(readFileSync(join(dev, "hb-out/b/b.out"), "utf8")).toBe("REMOTE\nb\n");
    expect(second.stderr).toContain("2 cached (2 remote)");
    const explain = await hb(dev, ["explain", "hb-out/b/b.out"]);
    expect(explain.stdout).toMatch(/by remote:\(no instance\):[0-9a-f]{16}/);
    // hb test says it too
    mkdirSync(join(ci, "t"));
    writeFileSync(
      join(ci, "t/BUILD.ts"),
      'import { attr, rule } from "@hb/core";\n' +
        'const check = rule({ kind: "check_test", test: true, attrs: { src: attr.label({ mandatory: true }) }, impl(ctx) {\n' +
        "  const log = ctx.declareFile(`${ctx.name}.test.log`);\n" +
        '  const [src] = ctx.files("src");\n' +
        '  ctx.actions.run({ executable: "/bin/bash", arguments: ["-c", `grep -q REMOTE ${src!.path} && echo pass > ${log.path}`], inputs: [src!], outputs: [log] });\n' +
        "  return { files: [], test: { log: log.path } };\n" +
        "} });\n" +
        'check({ name: "b", src: "//b" });\n',
    );
    expect((await hb(ci, ["test", ...upload(s.url, ciKeys).slice(1)])).exitCode).toBe(0);
    const tested = await hb(ci, ["test", ...upload(s.url, ciKeys).slice(1)]);
    expect(tested.exitCode, tested.output).toBe(0);
    expect(tested.stderr).toContain("hb: --remote-upload uploaded nothing: every action was cached (3 local, 0 remote)");
  });

  it("refuses entries signed by an untrusted key, and rebuilds", async () => {
    const s = await server();
    const ci = makeWorkspace(FILES);
    const ciKeys = await keys(ci, "keys");
    await hb(ci, upload(s.url, ciKeys));
    const dev = makeWorkspace(FILES);
    const other = await keys(dev, "other");
    const r = await hb(dev, read(s.url, join(other, "public.pem")));
    expect(r.exitCode, r.output).toBe(0);
    expect(summary(r)).toMatchObject({ executed: 2, cached: 0 });
    expect(report(dev).remote.rejected).toEqual({ untrusted: 2 });
    expect(r.stderr).toContain("remote cache: refused an entry (untrusted)");
    // said once, with the fix, though both entries were refused
    expect(r.stderr.match(/refused an entry/g)).toHaveLength(1);
    expect(r.stderr).toContain(
      "add its public key to remoteCache.trustedKeys in hb.config.ts (further entries refused so are counted, not said)",
    );
  });

  it("a server that does not trust this client's key refuses its entry: said in the summary and --report, and the build succeeds", async () => {
    const ci = makeWorkspace(FILES);
    const ciKeys = await keys(ci, "keys");
    const serverKeys = await keys(tempDir(), "release");
    const trustedKeysFile = join(serverKeys, "..", "trusted.json");
    writeFileSync(trustedKeysFile, JSON.stringify({ "*": ["release/public.pem"] }));
    const s = await startTestServer({ trustedKeysFile });
    servers.push(s);
    const r = await hb(
      ci,
      upload(s.url, ciKeys, ["//a"]).filter((a) => a !== "//..."),
    );
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toMatch(
      /refused \/\/a:a's entry: instance "" refuses this entry: the entry's signature: signed by key [0-9a-f]{16}, which is not trusted/,
    );
    expect(r.stderr).toMatch(/the server does not trust this client's signing key for instance '', so nothing more is uploaded/);
    expect(r.stderr).toMatch(/uploads refused by the server: 1 untrusted_signature/);
    expect(report(ci).remote).toMatchObject({ uploads: 0, refusedUploads: { untrusted_signature: 1 } });
    expect(report(ci).failed).toBe(0);
    expect(readFileSync(join(ci, "hb-out/a/a.out"), "utf8")).toBe("REMOTE\n");
  });

  it("re-hashes every blob: one corrupted on the server's disk is a miss, and the build stays correct", async () => {
    const s = await server();
    const ci = makeWorkspace(FILES);
    const ciKeys = await keys(ci, "keys");
    await hb(ci, upload(s.url, ciKeys));
    // overwrite b's output blob on the server with other bytes of the same size
    const hash = createHash("sha256").update("REMOTE\nb\n").digest("hex");
    const blob = findFile(s.dir, hash);
    writeFileSync(blob, "XXXXXX\nb\n");
    const dev = makeWorkspace(FILES);
    const r = await hb(dev, read(s.url, join(ciKeys, "public.pem")));
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(dev, "hb-out/b/b.out"), "utf8")).toBe("REMOTE\nb\n");
    expect(summary(r)).toMatchObject({ executed: 1, cached: 1 });
    const rejected = report(dev).remote.rejected;
    expect((rejected["corrupt-blob"] ?? 0) + (rejected["missing-blob"] ?? 0)).toBe(1);
  });

  it("binds writes to instances by token: a pull request cannot write main, and reads its own then main's", async () => {
    // anyone may read (developers, pull requests); writes are bound to instances by token
    const tokens = {
      anonymousRead: true,
      tokens: [
        { token: "main-ci-token-0123456789", scopes: ["read", "write"], instances: ["main"] },
        { token: "pr-123-token-0123456789", scopes: ["read", "write"], instances: ["pr-123"] },
        { token: "developer-read-only-0123", scopes: ["read"], instances: ["*"] },
      ],
    };
    const s = await server(tokens);
    const main = makeWorkspace(FILES);
    const mainKeys = await keys(main, "keys");
    const ok = await hb(main, upload(s.url, mainKeys, ["--remote-instance", "main"]), { HB_CACHE_TOKEN: "main-ci-token-0123456789" });
    expect(report(main).remote).toMatchObject({ uploads: 2 });
    expect(ok.stderr).not.toContain("main-ci-token");

    // a pull request's CI, with its own token and key, tries to write main: refused, build fine
    // (c beside a: two uploads under way at once, both refused, said once)
    const pr = makeWorkspace({
      ...FILES,
      "a/a.txt": "poison\n",
      "c/BUILD.ts": G + 'genrule({ name: "c", outs: ["c.out"], cmd: "echo c > $@" });\n',
    });
    const prKeys = await keys(pr, "keys");
    const poison = await hb(pr, upload(s.url, prKeys, ["--remote-instance", "main"]), { HB_CACHE_TOKEN: "pr-123-token-0123456789" });
    expect(poison.exitCode, poison.output).toBe(0);
    expect(poison.stderr).toMatch(/refused uploads to instance 'main' \(HTTP 403/);
    expect(poison.stderr.match(/refused uploads/g)).toHaveLength(1);
    expect(poison.stderr).not.toContain("pr-123-token");
    expect(report(pr).remote.uploads).toBe(0);
    // its own instance it may write
    const own = await hb(pr, upload(s.url, prKeys, ["--remote-instance", "pr-123"]), { HB_CACHE_TOKEN: "pr-123-token-0123456789" });
    expect(own.exitCode).toBe(0);

    // a developer reads pr-123 then main, trusting only main's key: main's entries are used, the PR's refused
    const dev = makeWorkspace(FILES);
    const r = await hb(
      dev,
      read(s.url, join(mainKeys, "public.pem"), ["--remote-read-instance", "pr-123", "--remote-read-instance", "main"]),
      { HB_CACHE_TOKEN: "developer-read-only-0123" },
    );
    expect(r.exitCode, r.output).toBe(0);
    expect(summary(r)).toMatchObject({ executed: 0, cached: 2 });
    // Bazel's form, the instance in the URL's path, reads main too
    const bazelForm = await hb(makeWorkspace(FILES), read(`${s.url}/main`, join(mainKeys, "public.pem")), {
      HB_CACHE_TOKEN: "developer-read-only-0123",
    });
    expect(bazelForm.exitCode, bazelForm.output).toBe(0);
    expect(summary(bazelForm)).toMatchObject({ executed: 0, cached: 2 });
    expect(bazelForm.stderr).not.toMatch(/refused an entry/);
    const twice = await hb(makeWorkspace(FILES), read(`${s.url}/main`, join(mainKeys, "public.pem"), ["--remote-read-instance", "pr-123"]));
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/URL names instance 'main' .* instances are given as settings too/);

    // read-only and missing tokens cannot write
    // (new content, so something executes and would be uploaded)
    const ro = await hb(makeWorkspace({ ...FILES, "a/a.txt": "read only\n" }), upload(s.url, mainKeys, ["--remote-instance", "main"]), {
      HB_CACHE_TOKEN: "developer-read-only-0123",
    });
    expect(ro.exitCode).toBe(0);
    expect(ro.stderr).toMatch(/HTTP 403/);
    const none = await hb(makeWorkspace({ ...FILES, "a/a.txt": "no token\n" }), upload(s.url, mainKeys, ["--remote-instance", "main"]));
    expect(none.exitCode).toBe(0);
    expect(none.stderr).toMatch(/HTTP 401/);
  });

  it("builds locally, saying so once, when the server is down", async () => {
    const dev = makeWorkspace(FILES);
    const k = await keys(dev, "keys");
    const r = await hb(dev, read("http://127.0.0.1:9", join(k, "public.pem")));
    expect(r.exitCode, r.output).toBe(0);
    expect(summary(r)).toMatchObject({ executed: 2 });
    expect(r.stderr.match(/is unavailable/g)).toHaveLength(1);
    expect(report(dev).remote.unavailable).toMatch(/ECONNREFUSED/);
  });

  it("says once that it gives the cache up, with many lookups at a time, and that it uploads nothing when asked to", async () => {
    let many = G;
    for (let i = 0; i < 12; i++) many += `genrule({ name: "g${i}", outs: ["g${i}.out"], cmd: "echo ${i} > $@" });\n`;
    const ws = makeWorkspace({ "m/BUILD.ts": many });
    const k = await keys(ws, "keys");
    const down = await hb(ws, upload("http://127.0.0.1:9", k));
    expect(down.exitCode, down.output).toBe(0);
    expect(down.stderr.match(/WARNING: remote cache/g)).toHaveLength(1);
    expect(down.stderr).toMatch(/is unavailable .*; building locally, and uploading nothing/);
    const s = await server({
      anonymousRead: false,
      tokens: [{ token: "ci-write-token-0123456789", scopes: ["read", "write"], instances: ["*"] }],
    });
    const wrong = await hb(makeWorkspace({ "m/BUILD.ts": many }), upload(s.url, k), { HB_CACHE_TOKEN: "wrong-token-0123456789" });
    expect(wrong.exitCode, wrong.output).toBe(0);
    expect(wrong.stderr.match(/WARNING: remote cache/g)).toHaveLength(1);
    expect(wrong.stderr).toMatch(/refused to let this client read \(HTTP 401\).*; building locally, and uploading nothing/);
  });
});

/** A compromised server: serves whatever entries the test crafts, signed or not. */
async function maliciousServer(entries: Map<string, Buffer>, blobs: Map<string, Buffer>): Promise<string> {
  const srv: Server = createServer((req, res) => {
    const m = /^\/(ac|cas)\/([0-9a-f]{64})$/.exec(req.url ?? "");
    const body = m ? (m[1] === "ac" ? entries : blobs).get(m[2]!) : undefined;
    if (req.method === "PUT") {
      req.resume();
      res.writeHead(200).end();
    } else if (!body) res.writeHead(404).end();
    else res.writeHead(200, { "content-length": body.length }).end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  servers.push({ stop: () => new Promise((r) => srv.close(() => r())) });
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
}

describe("remote cache: the token", () => {
  it("goes only to a cache named on the command line, never to the url hb.config.ts (a pull request's, perhaps) names", async () => {
    const seen: (string | undefined)[] = [];
    const srv = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    servers.push({ stop: () => new Promise((r) => srv.close(() => r())) });
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const ws = makeWorkspace(
      { "a/BUILD.ts": FILES["a/BUILD.ts"], "a/a.txt": FILES["a/a.txt"] },
      `export default { remoteCache: { url: "${url}" } };\n`,
    );
    const fromConfig = await hb(ws, ["build", "//a:a"], { HB_CACHE_TOKEN: "secret-token-0123456789" });
    expect(fromConfig.exitCode, fromConfig.output).toBe(0);
    expect(fromConfig.stderr).toContain("HB_CACHE_TOKEN is sent only to a cache named on the command line");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((h) => h === undefined)).toBe(true);
    seen.length = 0;
    rmSync(join(ws, ".hb"), { recursive: true });
    const fromFlag = await hb(ws, ["build", "//a:a", "--remote-cache", url], { HB_CACHE_TOKEN: "secret-token-0123456789" });
    expect(fromFlag.exitCode, fromFlag.output).toBe(0);
    expect(seen).toContain("Bearer secret-token-0123456789");
  });
});

describe("remote cache: entries from a compromised server", () => {
  /** The action key of //a:a, learned by uploading it to a recording server. */
  async function learn(): Promise<{ key: string; ws: string; keysDir: string; entries: Map<string, Buffer>; blobs: Map<string, Buffer> }> {
    const entries = new Map<string, Buffer>();
    const blobs = new Map<string, Buffer>();
    const recorder = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const m = /^\/(ac|cas)\/([0-9a-f]{64})$/.exec(req.url ?? "");
        if (req.method === "PUT" && m) (m[1] === "ac" ? entries : blobs).set(m[2]!, Buffer.concat(chunks));
        res.writeHead(req.method === "PUT" ? 200 : 404).end();
      });
    });
    await new Promise<void>((r) => recorder.listen(0, "127.0.0.1", r));
    const ws = makeWorkspace({ "a/BUILD.ts": FILES["a/BUILD.ts"], "a/a.txt": FILES["a/a.txt"] });
    const keysDir = await keys(ws, "keys");
    await hb(ws, upload(`http://127.0.0.1:${(recorder.address() as { port: number }).port}`, keysDir));
    recorder.close();
    const key = [...entries.keys()][0]!;
    return { key, ws, keysDir, entries, blobs };
  }

  const payloadOf = (entry: Buffer) => JSON.parse(Buffer.from(JSON.parse(entry.toString()).payload, "base64").toString());

  it.each([
    ["unsigned", "unsigned"],
    ["replayed under another action key", "replayed"],
    ["writing outside hb-out/ (../ in a path)", "unsafe-paths"],
  ])("refuses an entry that is %s, and rebuilds", async (attack, reason) => {
    const { key, keysDir, entries, blobs } = await learn();
    const genuine = entries.get(key)!;
    const signer = loadPrivateKey(join(keysDir, "private.pem"));
    const payload = payloadOf(genuine);
    const crafted = new Map<string, Buffer>();
    if (reason === "unsigned") {
      const env = JSON.parse(genuine.toString());
      crafted.set(key, Buffer.from(JSON.stringify({ ...env, signatures: [] })));
    } else if (reason === "replayed") {
      // a genuine, signed entry of another action, served under this action's key
      const other = signAcEntry({ ...payload, actionKey: "f".repeat(64) }, signer);
      crafted.set(key, other);
    } else {
      payload.result.files[0].path = "hb-out/a/../../../../tmp/hb-escape.txt";
      crafted.set(key, signAcEntry(payload, signer));
    }
    const url = await maliciousServer(crafted, blobs);
    const dev = makeWorkspace({ "a/BUILD.ts": FILES["a/BUILD.ts"], "a/a.txt": FILES["a/a.txt"] });
    const r = await hb(dev, [
      "build",
      "//a",
      "--remote-cache",
      url,
      "--trusted-key",
      join(keysDir, "public.pem"),
      "--report",
      "report.json",
    ]);
    expect(r.exitCode, `${attack}\n${r.output}`).toBe(0);
    expect(summary(r)).toMatchObject({ executed: 1, cached: 0 });
    expect(report(dev).remote.rejected).toEqual({ [reason]: 1 });
    expect(readFileSync(join(dev, "hb-out/a/a.out"), "utf8")).toBe("REMOTE\n");
    expect(() => statSync("/tmp/hb-escape.txt")).toThrow();
  });
});

function findFile(dir: string, name: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      try {
        return findFile(p, name);
      } catch {
        continue;
      }
    }
    if (e.name === name) return p;
  }
  throw new Error(`${name} not under ${dir}`);
}
