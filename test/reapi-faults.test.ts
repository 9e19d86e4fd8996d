import { createHash } from "node:crypto";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Metadata, status } from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type TestServer, startTestServer } from "../packages/cache-server/src/testing/server";
import { entryPath, storeLayout } from "../packages/cache-server/src/storage/layout";
import { CasClient } from "../packages/core/src/caching/remote/reapi/cas-client";
import { ReapiChannel } from "../packages/core/src/caching/remote/reapi/channel";
import { HB_ENTRY_TYPE_URL } from "../packages/core/src/caching/remote/reapi/entry-ref";
import { type ActionResult, type Digest, decode, encode, pack, unpack } from "../packages/core/src/caching/remote/reapi/proto";
import { type FaultProxy, type FaultRules, startFaultProxy } from "./grpc-fault-proxy";
import { hb, makeWorkspace, summary } from "./helpers";

// hb's REAPI client against hb's own server behind a proxy that breaks what passes (see
// grpc-fault-proxy.ts). Whatever the fault, the build must not end with a wrong or missing
// output: hb-out holds the bytes a local build makes.

const G = 'import { genrule } from "@hb/core";\n';
const FILES = {
  "a/BUILD.ts": G + 'genrule({ name: "a", srcs: ["a.txt"], outs: ["a.out"], cmd: "tr a-z A-Z < $< > $@" });\n',
  "a/a.txt": "remote\n",
  // big.bin is over the 4 MiB batch limit: it is read through ByteStream
  "b/BUILD.ts":
    G +
    'genrule({ name: "b", srcs: ["//a"], outs: ["b.out", "big.bin"], cmd: "(cat $<; echo b) > $(location b.out); seq 1 800000 > $(location big.bin)" });\n',
  "c/BUILD.ts": G + 'genrule({ name: "c", outs: ["c.out"], cmd: "echo c > $@" });\n',
  // an input over the batch limit: uploaded through ByteStream Write
  "d/BUILD.ts": G + 'genrule({ name: "d", srcs: ["big.txt"], outs: ["d.out"], cmd: "wc -c < $< > $@" });\n',
  "d/big.txt": Array.from({ length: 800_000 }, (_, i) => `${i}\n`).join(""),
};
const ACTIONS = 4;

const V2 = "build.bazel.remote.execution.v2";
const UNAVAILABLE = { code: status.UNAVAILABLE, details: "the proxy says no" };

const servers: TestServer[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  for (const s of servers.splice(0)) await s.stop();
});

/** hb's server with 2 workers, and the proxy in front of it breaking what `rules` say (made knowing the server). */
async function setup(rules: FaultRules | ((server: TestServer) => FaultRules) = {}): Promise<{ server: TestServer; proxy: FaultProxy }> {
  const server = await startTestServer({ grpcPort: 0, workers: 2 });
  servers.push(server);
  const proxy = await startFaultProxy(server.server.grpcUrl!, typeof rules === "function" ? rules(server) : rules);
  proxies.push(proxy);
  return { server, proxy };
}

/** Every file under hb-out/ with the sha256 of its bytes. */
function outputs(ws: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else
        out[`${rel}${e.name}`] = createHash("sha256")
          .update(readFileSync(join(dir, e.name)))
          .digest("hex");
    }
  };
  walk(join(ws, "hb-out"), "");
  return out;
}

function report(ws: string) {
  return JSON.parse(readFileSync(join(ws, "report.json"), "utf8"));
}

/** What a local build makes. */
let expected: Record<string, string>;
beforeAll(async () => {
  const local = makeWorkspace(FILES);
  const run = await hb(local, ["build", "//...", "--report", "report.json"]);
  expect(run.exitCode, run.output).toBe(0);
  expected = outputs(local);
  expect(Object.keys(expected).sort()).toEqual(["a/a.out", "b/b.out", "b/big.bin", "c/c.out", "d/d.out"]);
});

/** A fresh workspace built with `url` as its remote executor. */
async function remoteBuild(url: string) {
  const ws = makeWorkspace(FILES);
  const run = await hb(ws, ["build", "//...", "--remote-executor", url, "-j", "8", "--report", "report.json"]);
  return { ws, run };
}

const operation = (bytes: Buffer) => decode("google.longrunning.Operation", bytes);

/** The result a finished Operation carries. */
function operationResult(bytes: Buffer): ActionResult | undefined {
  const op = operation(bytes);
  return (op.done && unpack(`${V2}.ExecuteResponse`, op.response)?.result) || undefined;
}

/** The Operation with its result's output files named by `digest`. */
function withOutputs(bytes: Buffer, digest: (d: Digest) => Digest): Buffer {
  const op = operation(bytes);
  const res = unpack(`${V2}.ExecuteResponse`, op.response)!;
  const result = { ...res.result!, output_files: res.result!.output_files.map((f) => ({ ...f, digest: digest(f.digest!) })) };
  return encode("google.longrunning.Operation", { ...op, response: pack(`${V2}.ExecuteResponse`, { ...res, result }) });
}

/** A digest of the file's size whose bytes no one stored. */
function lost(d: Digest): Digest {
  return { hash: createHash("sha256").update(`not stored: ${d.hash}`).digest("hex"), size_bytes: d.size_bytes };
}

/** Where the server stores a blob. */
const blobPath = (server: TestServer, d: Digest) => entryPath(storeLayout(server.dir), { instance: "", kind: "cas", hash: d.hash });

/** Removes a blob from the server's store, as an eviction or a lost disk would. */
function evict(server: TestServer, d: Digest): void {
  rmSync(blobPath(server, d), { force: true });
}

/** The Action an Execute names, as the server stores it. */
function storedAction(server: TestServer, executeRequest: Buffer) {
  const digest = decode(`${V2}.ExecuteRequest`, executeRequest).action_digest!;
  return { digest, action: decode(`${V2}.Action`, readFileSync(blobPath(server, digest))) };
}

/** Once per action: `then` the first time an Execute names it. */
function firstExecute(then: (req: Buffer) => ReturnType<NonNullable<FaultRules["refuse"]>>): FaultRules["refuse"] {
  const seen = new Set<string>();
  return (method, req) => {
    if (method !== "Execute") return undefined;
    const hash = decode(`${V2}.ExecuteRequest`, req!).action_digest!.hash;
    if (seen.has(hash)) return undefined;
    seen.add(hash);
    return then(req!);
  };
}

const MISSING_OUTPUT = /remote execution of \/\/\S+: blob \S+ is not on the server; running it locally/g;

describe("REAPI remote execution through faults", () => {
  it.each([
    ["with UNAVAILABLE", UNAVAILABLE],
    ["cleanly, the operation not done", "end" as const],
  ])(
    "an Execute stream cut after its first Operation (%s) is followed with WaitExecution: every action still runs remotely",
    async (_, cut) => {
      const { proxy } = await setup({
        streamed: (method, message, _req, i) => (method === "Execute" && i === 0 && !operation(message).done ? { cut } : undefined),
      });
      const { ws, run } = await remoteBuild(proxy.url);
      expect(run.exitCode, run.output).toBe(0);
      expect(run.stderr, run.stderr).not.toMatch(/locally/);
      expect(proxy.count("Execute")).toBe(ACTIONS);
      expect(proxy.count("WaitExecution")).toBeGreaterThanOrEqual(ACTIONS);
      expect(report(ws).remote).toMatchObject({ executed: ACTIONS });
      expect(outputs(ws)).toEqual(expected);
    },
  );

  it("an operation the server lost after its stream was cut (WaitExecution: NOT_FOUND) is executed again", async () => {
    const cut = new Set<string>();
    const { proxy } = await setup({
      refuse: (method) => (method === "WaitExecution" ? { code: status.NOT_FOUND, details: "no such operation" } : undefined),
      // each action's first Execute stream only
      streamed: (method, message, req, i) => {
        if (method !== "Execute" || i !== 0 || operation(message).done) return undefined;
        const action = decode(`${V2}.ExecuteRequest`, req).action_digest!.hash;
        if (cut.has(action)) return undefined;
        cut.add(action);
        return { cut: UNAVAILABLE };
      },
    });
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr, run.stderr).not.toMatch(/locally/);
    expect(proxy.count("WaitExecution")).toBe(ACTIONS);
    expect(proxy.count("Execute")).toBe(2 * ACTIONS);
    expect(report(ws).remote).toMatchObject({ executed: ACTIONS });
    expect(outputs(ws)).toEqual(expected);
  });

  it("a stream that ends every time before the operation is done: the actions run locally after 6 tries, to the same bytes", async () => {
    const { proxy } = await setup({
      streamed: (method, message) =>
        method === "Execute" ? { cut: "end" } : method === "WaitExecution" ? { drop: operation(message).done, cut: "end" } : undefined,
    });
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr.match(/remote execution of \/\/\S+: .*; running it locally/g), run.stderr).toHaveLength(ACTIONS);
    expect(proxy.count("Execute") + proxy.count("WaitExecution")).toBe(6 * ACTIONS);
    expect(outputs(ws)).toEqual(expected);
  });

  it("the first two calls of every method answer UNAVAILABLE: each is tried again and every action still runs remotely", async () => {
    const { proxy } = await setup({ refuse: (_method, _req, nth) => (nth <= 2 ? UNAVAILABLE : undefined) });
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr, run.stderr).not.toMatch(/locally|unavailable/);
    for (const m of [
      "GetCapabilities",
      "GetActionResult",
      "FindMissingBlobs",
      "BatchUpdateBlobs",
      "Write",
      "Execute",
      "BatchReadBlobs",
      "Read",
    ])
      expect(proxy.count(m), m).toBeGreaterThan(2);
    expect(report(ws).remote).toMatchObject({ executed: ACTIONS });
    expect(outputs(ws)).toEqual(expected);
  });

  it.each([
    ["Execute answers UNAVAILABLE", { refuse: (method: string) => (method === "Execute" ? UNAVAILABLE : undefined) }],
    [
      "every execution stream is cut with UNAVAILABLE",
      { streamed: (method: string) => (method === "Execute" || method === "WaitExecution" ? { drop: true, cut: UNAVAILABLE } : undefined) },
    ],
  ])(
    "an executor that keeps failing (%s) is given up, said once, and the build runs locally to the same bytes",
    async (_, rules: FaultRules) => {
      const { proxy } = await setup(rules);
      const { ws, run } = await remoteBuild(proxy.url);
      expect(run.exitCode, run.output).toBe(0);
      expect(
        run.stderr.match(/remote executor grpc:\/\/\S+ is unavailable \(UNAVAILABLE: the proxy says no\); running actions locally/g),
        run.stderr,
      ).toHaveLength(1);
      expect(run.stderr, run.stderr).not.toMatch(/running it locally/);
      // the actions after those already trying it do not try it
      expect(proxy.count("Execute")).toBeLessThan(6 * ACTIONS);
      expect(summary(run)).toEqual({ actions: ACTIONS, executed: ACTIONS, cached: 0, failed: 0 });
      expect(outputs(ws)).toEqual(expected);
    },
  );

  it("a server answering every call with UNAVAILABLE: said once for the cache and once for the executor, built locally to the same bytes", async () => {
    const { proxy } = await setup({ refuse: () => UNAVAILABLE });
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr.match(/is unavailable/g), run.stderr).toHaveLength(2);
    expect(run.stderr).toMatch(/remote cache grpc:\/\/\S+ is unavailable/);
    expect(run.stderr).toMatch(/remote executor grpc:\/\/\S+ is unavailable/);
    expect(summary(run)).toEqual({ actions: ACTIONS, executed: ACTIONS, cached: 0, failed: 0 });
    expect(outputs(ws)).toEqual(expected);
  });

  it("an ExecuteResponse whose output files are not in the CAS: each action runs locally, to the same bytes", async () => {
    const { proxy } = await setup({
      streamed: (method, message) =>
        method === "Execute" && operationResult(message) ? { message: withOutputs(message, lost) } : undefined,
    });
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr.match(MISSING_OUTPUT), run.stderr).toHaveLength(ACTIONS);
    expect(summary(run)).toMatchObject({ executed: ACTIONS, failed: 0 });
    expect(outputs(ws)).toEqual(expected);
  });

  it("outputs the server's CAS lost after the action ran (big.bin's read through ByteStream too): each action runs locally, to the same bytes", async () => {
    const { proxy } = await setup((server) => ({
      // each result's largest output: a.out, c.out, d.out (batch reads) and big.bin (ByteStream)
      streamed: (method, message) => {
        const files = (method === "Execute" && operationResult(message)?.output_files) || [];
        const largest = files.sort((x, y) => y.digest!.size_bytes - x.digest!.size_bytes)[0];
        if (largest) evict(server, largest.digest!);
        return undefined;
      },
    }));
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr.match(MISSING_OUTPUT), run.stderr).toHaveLength(ACTIONS);
    expect(run.stderr).toContain(`blob ${expected["b/big.bin"]}/5488895 is not on the server`);
    expect(summary(run)).toMatchObject({ executed: ACTIONS, failed: 0 });
    expect(outputs(ws)).toEqual(expected);
  });

  it("a signed cached result whose outputs the CAS lost after GetActionResult: refused as missing-blob, built locally to the same bytes", async () => {
    const { server, proxy } = await setup((server) => ({
      response: (method, response) => {
        if (method === "GetActionResult") for (const f of decode(`${V2}.ActionResult`, response).output_files) evict(server, f.digest!);
        return response;
      },
    }));
    const ci = makeWorkspace(FILES);
    expect((await hb(ci, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const up = await hb(ci, [
      "build",
      "//...",
      "--remote-cache",
      server.server.grpcUrl!,
      "--remote-upload",
      "--signing-key",
      "keys/private.pem",
    ]);
    expect(up.exitCode, up.output).toBe(0);

    const dev = makeWorkspace(FILES);
    const run = await hb(dev, [
      "build",
      "//...",
      "--remote-cache",
      proxy.url,
      "--trusted-key",
      join(ci, "keys/public.pem"),
      "--report",
      "report.json",
    ]);
    expect(run.exitCode, run.output).toBe(0);
    expect(proxy.count("GetActionResult")).toBe(ACTIONS);
    expect(summary(run)).toEqual({ actions: ACTIONS, executed: ACTIONS, cached: 0, failed: 0 });
    expect(report(dev).remote).toMatchObject({ hits: 0, rejected: { "missing-blob": ACTIONS } });
    expect(outputs(dev)).toEqual(expected);
  });

  it("an engine's cached result (trustEngine) naming outputs not in the CAS: refused as missing-blob, built locally to the same bytes", async () => {
    const { server, proxy } = await setup({
      response: (method, response) => {
        if (method !== "GetActionResult") return response;
        const r = decode(`${V2}.ActionResult`, response);
        return encode(`${V2}.ActionResult`, { ...r, output_files: r.output_files.map((f) => ({ ...f, digest: lost(f.digest!) })) });
      },
    });
    // the engine's results, in the server's action cache
    const first = await remoteBuild(server.server.grpcUrl!);
    expect(first.run.exitCode, first.run.output).toBe(0);

    const config = `export default { remoteCache: { url: "${proxy.url}", trustEngine: { "": true } } };\n`;
    const dev = makeWorkspace(FILES, config);
    const run = await hb(dev, ["build", "//...", "--report", "report.json"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(proxy.count("GetActionResult")).toBe(ACTIONS);
    expect(summary(run)).toEqual({ actions: ACTIONS, executed: ACTIONS, cached: 0, failed: 0 });
    expect(report(dev).remote).toMatchObject({ hits: 0, rejected: { "missing-blob": ACTIONS } });
    expect(outputs(dev)).toEqual(expected);
  });

  it("the Action, its Command, input tree and inputs are in the CAS when Execute names them, and a result's blobs when UpdateActionResult does", async () => {
    const gaps: string[] = [];
    const checked = { Execute: 0, UpdateActionResult: 0 };
    let channel: ReapiChannel | undefined;
    const { proxy } = await setup((server) => {
      // asked of the server itself, before the call goes on
      channel = new ReapiChannel({ url: server.server.grpcUrl! }, "--remote-executor");
      const cas = new CasClient(channel, "");
      const lacking = async (what: string, digests: Digest[]) => {
        const missing = await cas.findMissing(digests);
        gaps.push(...missing.map((d) => `${what} ${d.hash}`));
        return missing.length > 0;
      };
      return {
        refuse: async (method, req) => {
          if (method === "Execute") {
            checked.Execute++;
            const digest = decode(`${V2}.ExecuteRequest`, req!).action_digest!;
            if (await lacking("Action", [digest])) return undefined;
            const action = decode(`${V2}.Action`, await cas.read(digest));
            await lacking("Command", [action.command_digest!]);
            // the input root, Directory by Directory, and every file in it
            const dirs = [action.input_root_digest!];
            for (let d = dirs.pop(); d; d = dirs.pop()) {
              if (await lacking("Directory", [d])) continue;
              const dir = decode(`${V2}.Directory`, await cas.read(d));
              await lacking(
                "input",
                dir.files.map((f) => f.digest!),
              );
              dirs.push(...dir.directories.map((sub) => sub.digest!));
            }
          } else if (method === "UpdateActionResult") {
            checked.UpdateActionResult++;
            const r = decode(`${V2}.UpdateActionResultRequest`, req!).action_result!;
            const entry = r.execution_metadata!.auxiliary_metadata.find((m) => m.type_url === HB_ENTRY_TYPE_URL)!;
            await lacking("output", [
              ...r.output_files.map((f) => f.digest!),
              ...r.output_directories.map((d) => d.tree_digest!),
              decode(`${V2}.Digest`, entry.value),
            ]);
          }
          return undefined;
        },
      };
    });
    try {
      const ws = makeWorkspace(FILES);
      expect((await hb(ws, ["keygen", "--out", "keys"])).exitCode).toBe(0);
      const run = await hb(ws, [
        "build",
        "//...",
        "--remote-executor",
        proxy.url,
        "--remote-upload",
        "--signing-key",
        "keys/private.pem",
        "--report",
        "report.json",
      ]);
      expect(run.exitCode, run.output).toBe(0);
      expect(run.stderr, run.stderr).not.toMatch(/locally|failed \(|refused/);
      expect(report(ws).remote).toMatchObject({ executed: ACTIONS, uploads: ACTIONS });
      expect(gaps).toEqual([]);
      expect(checked).toEqual({ Execute: ACTIONS, UpdateActionResult: ACTIONS });
      expect(outputs(ws)).toEqual(expected);
    } finally {
      channel!.close();
    }
  });

  it("a Command evicted between its upload and Execute (FAILED_PRECONDITION in the ExecuteResponse) is uploaded again and the action still runs remotely", async () => {
    const { proxy } = await setup((server) => ({
      refuse: firstExecute((req) => {
        evict(server, storedAction(server, req).action.command_digest!);
        return undefined;
      }),
    }));
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr, run.stderr).not.toMatch(/locally/);
    expect(proxy.count("Execute")).toBe(2 * ACTIONS);
    expect(report(ws).remote).toMatchObject({ executed: ACTIONS });
    expect(outputs(ws)).toEqual(expected);
  });

  it("an Action evicted before Execute, refused with FAILED_PRECONDITION as the call's status (REAPI's way before an operation exists), is uploaded again and the action still runs remotely", async () => {
    const { proxy } = await setup((server) => ({
      refuse: firstExecute((req) => {
        const { digest } = storedAction(server, req);
        evict(server, digest);
        const subject = `blobs/${digest.hash}/${digest.size_bytes}`;
        const details = pack("google.rpc.PreconditionFailure", { violations: [{ type: "MISSING", subject }] });
        const metadata = new Metadata();
        const message = "the Action is not in the CAS";
        metadata.set(
          "grpc-status-details-bin",
          encode("google.rpc.Status", { code: status.FAILED_PRECONDITION, message, details: [details] }),
        );
        return { code: status.FAILED_PRECONDITION, details: message, metadata };
      }),
    }));
    const { ws, run } = await remoteBuild(proxy.url);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stderr, run.stderr).not.toMatch(/locally/);
    expect(proxy.count("Execute")).toBe(2 * ACTIONS);
    expect(report(ws).remote).toMatchObject({ executed: ACTIONS });
    expect(outputs(ws)).toEqual(expected);
  });
});
