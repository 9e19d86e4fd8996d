// Real Bazel (Debian's bazel-bootstrap, 4.2) as a client: it must use this server as it uses
// bazel-remote, anonymously on loopback and with a token in the URL's user info.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BAZEL, type BazelRun as Run, bazel } from "../testing/bazel";
import { get } from "../testing/http-client";
import { type TestServer, removeTempDirs, startTestServer, tempDir, writeTokens } from "../testing/server";

const servers: TestServer[] = [];
/** each Bazel server is keyed by output root and workspace: `bazel shutdown` needs both */
const bazelServers: { root: string; ws: string }[] = [];

afterAll(async () => {
  for (const { root, ws } of bazelServers) await bazel(root, ws, ["shutdown"]);
  for (const s of servers) await s.stop();
  removeTempDirs();
}, 60_000);

function workspace(): string {
  const ws = tempDir("hb-bazel-ws-");
  writeFileSync(join(ws, "WORKSPACE"), 'workspace(name = "hb_cache_test")\n');
  writeFileSync(join(ws, "in.txt"), "input for the remote cache test\n");
  writeFileSync(
    join(ws, "BUILD"),
    'genrule(name = "x", srcs = ["in.txt"], outs = ["x.txt"], cmd = "tr a-z A-Z < $< > $@; echo genrule ran >&2")\n',
  );
  return ws;
}

function metric(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return Number(line?.slice(sample.length + 1));
}

/** Builds, forgets everything local, builds again: the second build must come from the remote cache. */
async function buildTwice(cacheUrl: string): Promise<{ first: Run; second: Run; executionLog: string }> {
  const ws = workspace();
  const root = tempDir("hb-bazel-root-");
  bazelServers.push({ root, ws });
  const log = join(root, "exec.json");
  const flags = [`--remote_cache=${cacheUrl}`, "--curses=no", "--color=no", "--show_progress=no"];
  const first = await bazel(root, ws, ["build", ...flags, "//:x"]);
  expect(first.code, first.stderr).toBe(0);
  const clean = await bazel(root, ws, ["clean", "--expunge"]);
  expect(clean.code, clean.stderr).toBe(0);
  const second = await bazel(root, ws, ["build", ...flags, `--execution_log_json_file=${log}`, "//:x"]);
  expect(second.code, second.stderr).toBe(0);
  return { first, second, executionLog: readFileSync(log, "utf8") };
}

describe("real Bazel as a client", () => {
  it.skipIf(!BAZEL)(
    `bazel build --remote_cache=http://127.0.0.1:PORT hits after clean --expunge${BAZEL ? "" : " (SKIPPED: bazel is not installed; apt-get install bazel-bootstrap)"}`,
    async () => {
      const s = await startTestServer();
      servers.push(s);
      const { first, second, executionLog } = await buildTwice(s.url);
      expect(first.stderr).not.toMatch(/remote cache hit/);
      expect(second.stderr).toMatch(/1 remote cache hit/);
      expect(executionLog).toMatch(/"remoteCacheHit": true/);
      const metrics = (await get(s.url, "/metrics")).body.toString();
      expect(metric(metrics, 'hb_cache_hits_total{kind="ac"}')).toBeGreaterThanOrEqual(1);
      expect(metric(metrics, 'hb_cache_hits_total{kind="cas"}')).toBeGreaterThanOrEqual(1);
      // Bazel's ActionResult and blobs were all accepted, none refused
      expect(metrics).not.toMatch(/^hb_cache_refused_uploads_total\{[^}]*\} [1-9]/m);
      expect(s.accessLog.filter((e) => e.method === "PUT" && e.path.startsWith("/ac/")).map((e) => e.status)).toEqual([200]);
    },
    240_000,
  );

  it.skipIf(!BAZEL)(
    `bazel with a token in the URL (http://user:TOKEN@127.0.0.1:PORT)${BAZEL ? "" : " (SKIPPED: bazel is not installed)"}`,
    async () => {
      const token = "bazel-ci-0123456789abcdef";
      const tokensFile = writeTokens(tempDir(), {
        anonymousRead: false,
        tokens: [{ name: "bazel-ci", token, scopes: ["read", "write"], instances: ["*"] }],
      });
      const s = await startTestServer({ tokensFile });
      servers.push(s);
      const { second, executionLog } = await buildTwice(s.url.replace("http://", `http://bazel:${token}@`));
      expect(second.stderr).toMatch(/1 remote cache hit/);
      expect(executionLog).toMatch(/"remoteCacheHit": true/);
      expect(new Set(s.accessLog.map((e) => e.tokenName))).toEqual(new Set(["bazel-ci"]));
      // misses (404) and hits, never a 401/403: Bazel's basic auth carried the token
      expect([...new Set(s.accessLog.map((e) => e.status))].sort()).toEqual([200, 404]);
      expect(JSON.stringify(s.accessLog)).not.toContain(token);
      expect((await get(s.url, `/cas/${"0".repeat(64)}`)).status).toBe(401);
    },
    240_000,
  );
});
