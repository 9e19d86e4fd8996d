import { execa } from "execa";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, startTestServer } from "../packages/cache-server/src/testing/server";
import { CasClient, digestOf } from "../packages/core/src/caching/remote/reapi/cas-client";
import { ReapiChannel } from "../packages/core/src/caching/remote/reapi/channel";
import { decode } from "../packages/core/src/caching/remote/reapi/proto";
import { generate } from "../bench/gen-monorepo.mjs";
import { hb, makeWorkspace, summary, tempDir } from "./helpers";

// hb's REAPI client against hb's own server (REAPI v2 over gRPC on 127.0.0.1): the cache half
// with signed entries, and remote execution in the server's sandbox.

const G = 'import { genrule } from "@hb/core";\n';
const FILES = {
  "a/BUILD.ts": G + 'genrule({ name: "a", srcs: ["a.txt"], outs: ["a.out"], cmd: "tr a-z A-Z < $< > $@" });\n',
  "a/a.txt": "remote\n",
  "b/BUILD.ts":
    G +
    // 5.5 MiB of output: over the 4 MiB batch limit, so it goes through ByteStream both ways, in
    // chunks that differ (a chunk sent in another's place must not go unseen)
    'genrule({ name: "b", srcs: ["//a"], outs: ["b.out", "big.bin"], cmd: "(cat $<; echo b) > $(location b.out); seq 1 800000 > $(location big.bin)" });\n',
};

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function server(workers = 0): Promise<TestServer> {
  const s = await startTestServer({ grpcPort: 0, workers });
  servers.push(s);
  return s;
}

function report(ws: string) {
  return JSON.parse(readFileSync(join(ws, "report.json"), "utf8"));
}

/** `hb build` uploading to `url`, signed with keys/private.pem (made by hb keygen in the workspace) */
const upload = (url: string, pattern = "//...") => [
  "build",
  pattern,
  "--remote-cache",
  url,
  "--remote-upload",
  "--signing-key",
  "keys/private.pem",
  "--report",
  "report.json",
];

describe("REAPI (gRPC)", () => {
  it("a second workspace builds from the first one's signed uploads; an untrusted key's entries are refused", async () => {
    const s = await server();
    const url = s.server.grpcUrl!;
    const ci = makeWorkspace(FILES);
    expect((await hb(ci, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const up = await hb(ci, upload(url));
    expect(up.exitCode, up.output).toBe(0);
    expect(report(ci).remote).toMatchObject({ uploads: 2, misses: 2 });
    expect(report(ci).remote.bytesUploaded).toBeGreaterThan(5 * 2 ** 20);

    const dev = makeWorkspace(FILES);
    const read = await hb(dev, [
      "build",
      "//...",
      "--remote-cache",
      url,
      "--trusted-key",
      join(ci, "keys/public.pem"),
      "--report",
      "report.json",
    ]);
    expect(read.exitCode, read.output).toBe(0);
    expect(summary(read)).toEqual({ actions: 2, executed: 0, cached: 2, failed: 0 });
    expect(report(dev).remote).toMatchObject({ hits: 2, rejected: {} });
    expect(report(dev).targets).toEqual(report(ci).targets);
    expect(readFileSync(join(dev, "hb-out/b/b.out"), "utf8")).toBe("REMOTE\nb\n");
    expect(readFileSync(join(dev, "hb-out/b/big.bin")).length).toBe(5_488_895);

    const other = makeWorkspace(FILES);
    expect((await hb(other, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const refused = await hb(other, [
      "build",
      "//...",
      "--remote-cache",
      url,
      "--trusted-key",
      "keys/public.pem",
      "--report",
      "report.json",
    ]);
    expect(refused.exitCode, refused.output).toBe(0);
    expect(summary(refused)).toMatchObject({ executed: 2, cached: 0 });
    expect(report(other).remote.rejected).toEqual({ untrusted: 2 });
  });

  it("a server with trusted keys stores over gRPC too only results whose hb entry a trusted key signed: another key's is refused and counted, the trusted one's is used", async () => {
    const ci = makeWorkspace(FILES);
    expect((await hb(ci, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const trustedKeysFile = join(ci, "trusted.json");
    writeFileSync(trustedKeysFile, JSON.stringify({ "*": ["keys/public.pem"] }));
    const s = await startTestServer({ grpcPort: 0, workers: 0, trustedKeysFile });
    servers.push(s);
    const url = s.server.grpcUrl!;

    // first, as a token holder with a key no client trusts would: its results would displace good ones
    // (one action: a second one's upload may start before the first is refused)
    const other = makeWorkspace(FILES);
    expect((await hb(other, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const refused = await hb(other, upload(url, "//a"));
    expect(refused.exitCode, refused.output).toBe(0);
    expect(refused.stderr).toMatch(
      /refused uploads to instance '' \(PERMISSION_DENIED: instance "" refuses this result: the entry's signature: .*not trusted/,
    );
    expect(report(other).remote).toMatchObject({ uploads: 0, refusedUploads: { untrusted_signature: 1 } });
    expect(report(other).failed).toBe(0);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/refused_uploads[^\n]*untrusted_signature[^\n]* 1\n/);

    const up = await hb(ci, upload(url));
    expect(up.exitCode, up.output).toBe(0);
    expect(report(ci).remote).toMatchObject({ uploads: 2, refusedUploads: {} });
    const dev = makeWorkspace(FILES);
    const read = await hb(dev, ["build", "//...", "--remote-cache", url, "--trusted-key", join(ci, "keys/public.pem")]);
    expect(read.exitCode, read.output).toBe(0);
    expect(summary(read)).toEqual({ actions: 2, executed: 0, cached: 2, failed: 0 });
  });

  it("runs actions on the server's executor, byte for byte as locally, and an engine-made result is not used where the engine is not trusted", async () => {
    const s = await server(2);
    const url = s.server.grpcUrl!;
    const local = makeWorkspace(FILES);
    const here = await hb(local, ["build", "//...", "--report", "report.json"]);
    expect(here.exitCode, here.output).toBe(0);

    const remote = makeWorkspace(FILES);
    const there = await hb(remote, ["build", "//...", "--remote-executor", url, "-j", "8", "--report", "report.json"]);
    expect(there.exitCode, there.output).toBe(0);
    expect(there.stderr).not.toMatch(/running .*locally/);
    expect(report(remote).remote).toMatchObject({ executed: 2 });
    expect(report(remote).targets).toEqual(report(local).targets);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('hb_cache_grpc_calls_total{method="Execute"} 2\n');
    expect(metrics).toMatch(/hb_cache_grpc_calls_total\{method="FindMissingBlobs"\} [1-9]/);

    // the server's action cache now holds the engine's results, signed by no one: a fresh
    // workspace reading it without trustEngine must not use them
    const fresh = makeWorkspace(FILES);
    const again = await hb(fresh, ["build", "//...", "--remote-cache", url, "--report", "report.json"]);
    expect(again.exitCode, again.output).toBe(0);
    expect(summary(again)).toMatchObject({ executed: 2, cached: 0 });
    expect(report(fresh).remote.rejected).toEqual({ unsigned: 2 });

    const failing = makeWorkspace({ "f/BUILD.ts": G + 'genrule({ name: "f", outs: ["f.out"], cmd: "echo remote-boom >&2; exit 7" });\n' });
    const failed = await hb(failing, ["build", "//...", "--remote-executor", url]);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(/exited with code 7 on the remote executor/);
    expect(failed.stderr).toContain("remote-boom");
  });

  it("uploads a blob that actions running at once all need once, over ByteStream, and again only when the server lacks it", async () => {
    const s = await server();
    const file = join(tempDir(), "tool.bin");
    writeFileSync(file, Array.from({ length: 900_000 }, (_, i) => `${i}\n`).join(""));
    const blob = { digest: digestOf(readFileSync(file)), file };
    const channel = new ReapiChannel({ url: s.server.grpcUrl! }, "--remote-executor");
    try {
      const cas = new CasClient(channel, "");
      await Promise.all(Array.from({ length: 8 }, () => cas.upload([blob])));
      expect(cas.bytesUploaded).toBe(blob.digest.size_bytes);
      await cas.upload([blob]);
      expect(cas.bytesUploaded).toBe(blob.digest.size_bytes);
      expect((await cas.read(blob.digest)).equals(readFileSync(file))).toBe(true);
    } finally {
      channel.close();
    }
  });

  it("speaks grpcs:// to a server whose certificate the CA given by --remote-ca signed, and says why it cannot without it", async () => {
    // a CA of the test's own, and the server's certificate for 127.0.0.1 signed by it (openssl, as a team would make them)
    const pki = tempDir();
    const ssl = (...args: string[]) => execa("openssl", args, { cwd: pki });
    await ssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=hb test CA",
    );
    await ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(pki, "san.ext"), "subjectAltName = IP:127.0.0.1\n");
    await ssl(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "san.ext",
    );
    const s = await startTestServer({ grpcPort: 0, workers: 0, grpcTls: { cert: join(pki, "server.pem"), key: join(pki, "server.key") } });
    servers.push(s);
    const url = s.server.grpcUrl!;
    expect(url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);

    const ws = makeWorkspace(FILES);
    expect((await hb(ws, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const trusted = await hb(ws, [...upload(url), "--remote-ca", join(pki, "ca.pem")]);
    expect(trusted.exitCode, trusted.output).toBe(0);
    expect(report(ws).remote).toMatchObject({ uploads: 2 });
    expect(report(ws).remote.unavailable).toBeUndefined();

    // the system's CAs do not know the test's: the build goes on locally and says why, once
    const other = makeWorkspace(FILES);
    expect((await hb(other, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const untrusted = await hb(other, upload(url));
    expect(untrusted.exitCode, untrusted.output).toBe(0);
    expect(untrusted.stderr.match(/remote cache grpcs:\/\/[^ ]+ is unavailable/g)).toHaveLength(1);
    expect(report(other).remote).toMatchObject({ uploads: 0 });
  });

  it("sends hb.config.ts's platform properties, a target's exec_properties over them and --exec-property to the executor, and keys by them", async () => {
    const s = await server(1);
    const url = s.server.grpcUrl!;
    const files = {
      "a/BUILD.ts": G + 'genrule({ name: "a", outs: ["a.out"], cmd: "echo a > $@", exec_properties: { pool: "big" } });\n',
      "b/BUILD.ts": G + 'genrule({ name: "b", outs: ["b.out"], cmd: "echo b > $@" });\n',
    };
    const config = 'export default { execProperties: { OSFamily: "linux", pool: "small" } };\n';
    const keys = (ws: string) =>
      Object.fromEntries((report(ws).actionList as { label: string; key: string }[]).map((a) => [a.label, a.key]));

    const remote = makeWorkspace(files, config);
    const flag = ["--exec-property", "container-image=docker://node:20", "--exec-property", "pool=ignored-by-a"];
    const there = await hb(remote, ["build", "//...", "--remote-executor", url, ...flag, "--report", "report.json"]);
    expect(there.exitCode, there.output).toBe(0);
    expect(report(remote).remote).toMatchObject({ executed: 2 });

    // what the server was sent: each Command and its Action carry the properties, sorted by name
    const platforms = new Map<string, { name: string; value: string }[]>();
    const commands = new Map<string, { name: string; value: string }[]>();
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
    for (const file of walk(join(s.dir, "blobs"))) {
      const bytes = readFileSync(file);
      try {
        const command = decode("build.bazel.remote.execution.v2.Command", bytes);
        const out = command.output_files[0];
        if (command.arguments[0] === "/bin/bash" && out) commands.set(out, command.platform?.properties ?? []);
      } catch {}
      try {
        const action = decode("build.bazel.remote.execution.v2.Action", bytes);
        if (action.command_digest && action.salt.length === 32)
          platforms.set(action.command_digest.hash, action.platform?.properties ?? []);
      } catch {}
    }
    const expected = (pool: string) => [
      { name: "OSFamily", value: "linux" },
      { name: "container-image", value: "docker://node:20" },
      { name: "pool", value: pool },
    ];
    expect(Object.fromEntries(commands)).toEqual({ "hb-out/a/a.out": expected("big"), "hb-out/b/b.out": expected("ignored-by-a") });
    expect([...platforms.values()].sort((x, y) => x[2]!.value.localeCompare(y[2]!.value))).toEqual([
      expected("big"),
      expected("ignored-by-a"),
    ]);

    // the key covers them: the same properties locally give the same keys, others other keys
    const same = makeWorkspace(files, config);
    expect((await hb(same, ["build", "//...", ...flag, "--report", "report.json"])).exitCode).toBe(0);
    expect(keys(same)).toEqual(keys(remote));
    const without = await hb(same, ["build", "//...", "--report", "report.json"]);
    expect(without.exitCode, without.output).toBe(0);
    expect(summary(without)).toMatchObject({ executed: 2 });
    const plain = keys(same);
    expect(plain["//a:a"]).not.toBe(keys(remote)["//a:a"]);
    expect(plain["//b:b"]).not.toBe(keys(remote)["//b:b"]);

    const bad = await hb(same, ["build", "//...", "--exec-property", "pool"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--exec-property 'pool' is not NAME=VALUE");
  });

  it("executes the 200-package bench monorepo remotely to the same bytes as a local build", async () => {
    const s = await server(2);
    const local = join(tempDir(), "repo");
    const remote = join(tempDir(), "repo");
    for (const out of [local, remote]) generate({ out, n: 200, f: 10, force: true });
    const here = await hb(local, ["build", "//...", "--report", "report.json"]);
    expect(here.exitCode, here.output).toBe(0);
    const there = await hb(remote, ["build", "//...", "--remote-executor", s.server.grpcUrl!, "-j", "8", "--report", "report.json"]);
    expect(there.exitCode, there.output).toBe(0);
    expect(there.stderr).not.toMatch(/locally/);
    expect(report(remote).remote).toMatchObject({ executed: 200 });
    expect(report(remote).targets).toEqual(report(local).targets);
    expect(report(local).targets.flatMap((t: { outputs: unknown[] }) => t.outputs).length).toBeGreaterThanOrEqual(2000);
  }, 240_000);
});
