// Real Bazel 4.2 (Debian's bazel-bootstrap) as the independent REAPI client: a gRPC remote cache
// and a remote executor served by hb's server, running Bazel's actions in hb's sandbox.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BAZEL, bazel } from "../testing/bazel";
import { type TestServer, removeTempDirs, startTestServer, tempDir } from "../testing/server";

const servers: TestServer[] = [];
const bazelServers: { root: string; ws: string }[] = [];
const FLAGS = ["--curses=no", "--color=no", "--show_progress=no"];

afterAll(async () => {
  for (const { root, ws } of bazelServers) await bazel(root, ws, ["shutdown"]);
  for (const s of servers) await s.stop();
  removeTempDirs();
}, 60_000);

function workspace(build: string): { ws: string; root: string } {
  const ws = tempDir("hb-bazel-grpc-ws-");
  writeFileSync(join(ws, "WORKSPACE"), 'workspace(name = "hb_grpc_test")\n');
  writeFileSync(join(ws, "in.txt"), "input for the remote execution test\n");
  writeFileSync(join(ws, "BUILD"), build);
  const root = tempDir("hb-bazel-grpc-root-");
  bazelServers.push({ root, ws });
  return { ws, root };
}

const TWO_STEPS = [
  'genrule(name = "up", srcs = ["in.txt"], outs = ["up.txt"], cmd = "tr a-z A-Z < $< > $@; echo upper ran >&2")',
  // a second action reading the first's output: inputs from the remote CAS, and a directory made by the server
  'genrule(name = "count", srcs = [":up"], outs = ["sub/count.txt"], cmd = "wc -c < $< > $@")',
  "",
].join("\n");

async function server(workers: number): Promise<TestServer> {
  const s = await startTestServer({ grpcPort: 0, workers });
  servers.push(s);
  return s;
}

describe.skipIf(!BAZEL)(`real Bazel over REAPI (gRPC)${BAZEL ? "" : " (SKIPPED: apt-get install bazel-bootstrap)"}`, () => {
  it("--remote_cache=grpc:// misses, uploads, then hits after clean --expunge", async () => {
    const s = await server(0);
    const { ws, root } = workspace(TWO_STEPS);
    const flags = [...FLAGS, `--remote_cache=${s.server.grpcUrl}`];
    const first = await bazel(root, ws, ["build", ...flags, "//:count"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/3 processes: 1 internal, 2 (linux-sandbox|processwrapper-sandbox|local)\./);
    expect(first.stderr).not.toMatch(/remote cache hit/);
    expect((await bazel(root, ws, ["clean", "--expunge"])).code).toBe(0);
    const log = join(root, "exec.json");
    const second = await bazel(root, ws, ["build", ...flags, `--execution_log_json_file=${log}`, "//:count"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/2 remote cache hit/);
    expect(readFileSync(log, "utf8").match(/"remoteCacheHit": true/g)).toHaveLength(2);
    expect(readFileSync(join(ws, "bazel-bin/sub/count.txt"), "utf8").trim()).toBe("36");
  }, 300_000);

  it("--remote_executor=grpc:// runs the actions on hb's server, then hits; a failing action's stderr reaches Bazel", async () => {
    const s = await server(2);
    const failing =
      'genrule(name = "fails", srcs = ["in.txt"], outs = ["never.txt"], cmd = "echo boom-from-the-remote-worker >&2; exit 3")\n';
    const { ws, root } = workspace(TWO_STEPS + failing);
    const flags = [...FLAGS, `--remote_executor=${s.server.grpcUrl}`];
    const first = await bazel(root, ws, ["build", ...flags, "//:count"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/3 processes: 1 internal, 2 remote\./);
    expect(first.stderr).toMatch(/upper ran/);
    expect(first.stderr).not.toMatch(/bwrap:/);
    expect(readFileSync(join(ws, "bazel-bin/up.txt"), "utf8")).toBe("INPUT FOR THE REMOTE EXECUTION TEST\n");
    expect(readFileSync(join(ws, "bazel-bin/sub/count.txt"), "utf8").trim()).toBe("36");
    expect((await bazel(root, ws, ["clean", "--expunge"])).code).toBe(0);
    const second = await bazel(root, ws, ["build", ...flags, "//:count"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/2 remote cache hit/);
    const failed = await bazel(root, ws, ["build", ...flags, "//:fails"]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/boom-from-the-remote-worker/);
    expect(failed.stderr).toMatch(/exit 3/);
  }, 300_000);
});
