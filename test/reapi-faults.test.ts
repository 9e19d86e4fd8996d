import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type TestServer, startTestServer } from "../packages/cache-server/src/testing/server";
import { decode } from "../packages/core/src/caching/remote/reapi/proto";
import { type FaultProxy, type FaultRules, startFaultProxy } from "./grpc-fault-proxy";
import { hb, makeWorkspace } from "./helpers";

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
};
const ACTIONS = 3;

const V2 = "build.bazel.remote.execution.v2";
const UNAVAILABLE = { code: status.UNAVAILABLE, details: "the proxy says no" };

const servers: TestServer[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  for (const s of servers.splice(0)) await s.stop();
});

/** hb's server with 2 workers, and the proxy in front of it. */
async function setup(rules: FaultRules = {}): Promise<{ server: TestServer; proxy: FaultProxy }> {
  const server = await startTestServer({ grpcPort: 0, workers: 2 });
  servers.push(server);
  const proxy = await startFaultProxy(server.server.grpcUrl!, rules);
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
  expect(Object.keys(expected).sort()).toEqual(["a/a.out", "b/b.out", "b/big.bin", "c/c.out"]);
});

/** A fresh workspace built with `url` as its remote executor. */
async function remoteBuild(url: string, extra: string[] = []) {
  const ws = makeWorkspace(FILES);
  const run = await hb(ws, ["build", "//...", "--remote-executor", url, "-j", "8", "--report", "report.json", ...extra]);
  return { ws, run };
}

const operation = (bytes: Buffer) => decode("google.longrunning.Operation", bytes);

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
});
