import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hbEntry } from "../testing/hb-entry";
import { get, head, put, request } from "../testing/http-client";
import { digestOf, encodeActionResult } from "../testing/protobuf";
import { type TestServer, removeTempDirs, startTestServer } from "../testing/server";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.stop();
  removeTempDirs();
});

const ACTION = "ac".repeat(32);

async function until(test: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe.each([
  ["without an instance", ""],
  ["under an instance", "/main"],
])("the Bazel HTTP cache protocol %s", (_what, prefix) => {
  const instance = prefix.slice(1);
  const blob = Buffer.from(`blob bytes ${prefix}`);
  const d = digestOf(blob);

  it("misses are 404 for GET and HEAD", async () => {
    expect((await get(s.url, `${prefix}/cas/${"0".repeat(64)}`)).status).toBe(404);
    expect((await head(s.url, `${prefix}/ac/${"0".repeat(64)}`)).status).toBe(404);
  });

  it("PUT then GET and HEAD a CAS blob", async () => {
    expect((await put(s.url, `${prefix}/cas/${d.hash}`, blob)).status).toBe(200);
    const got = await get(s.url, `${prefix}/cas/${d.hash}`);
    expect(got.status).toBe(200);
    expect(got.headers["content-type"]).toBe("application/octet-stream");
    expect(got.body).toEqual(blob);
    const h = await head(s.url, `${prefix}/cas/${d.hash}`);
    expect(h.status).toBe(200);
    expect(h.headers["content-length"]).toBe(String(blob.length));
    expect(h.body.length).toBe(0);
    // Bazel's HTTP client uploads what it has again: accepted, nothing changes
    expect((await put(s.url, `${prefix}/cas/${d.hash}`, blob)).status).toBe(200);
  });

  it("PUT then GET a Bazel ActionResult and an hb entry", async () => {
    const bazel = encodeActionResult({ files: [{ path: "bazel-out/x", digest: d }], exitCode: 0 });
    expect((await put(s.url, `${prefix}/ac/${ACTION}`, bazel)).status).toBe(200);
    expect((await get(s.url, `${prefix}/ac/${ACTION}`)).body).toEqual(bazel);
    expect((await head(s.url, `${prefix}/ac/${ACTION}`)).headers["content-length"]).toBe(String(bazel.length));
    const key = "be".repeat(32);
    const entry = hbEntry(key, instance, [{ path: "hb-out/x", ...d }]);
    expect((await put(s.url, `${prefix}/ac/${key}`, entry)).status).toBe(200);
    expect((await get(s.url, `${prefix}/ac/${key}`)).body).toEqual(entry);
  });

  it("serves the empty blob once uploaded", async () => {
    const empty = digestOf("");
    expect((await put(s.url, `${prefix}/cas/${empty.hash}`, Buffer.alloc(0))).status).toBe(200);
    const got = await get(s.url, `${prefix}/cas/${empty.hash}`);
    expect([got.status, got.body.length]).toEqual([200, 0]);
  });
});

describe("instances", () => {
  it("are separate namespaces for CAS and AC", async () => {
    const blob = Buffer.from("only in main");
    const d = digestOf(blob);
    await put(s.url, `/main/cas/${d.hash}`, blob);
    expect((await get(s.url, `/main/cas/${d.hash}`)).status).toBe(200);
    expect((await get(s.url, `/pr/cas/${d.hash}`)).status).toBe(404);
    expect((await get(s.url, `/cas/${d.hash}`)).status).toBe(404);
    // an AC entry in "pr" cannot lean on main's CAS
    const res = await put(s.url, `/pr/ac/${"cd".repeat(32)}`, encodeActionResult({ files: [{ path: "x", digest: d }] }));
    expect(res.status).toBe(400);
  });
});

describe("uploads", () => {
  it("accept a chunked body without Content-Length", async () => {
    const blob = Buffer.from("sent in chunks");
    const d = digestOf(blob);
    const { Readable } = await import("node:stream");
    expect(
      (await request(s.url, `/cas/${d.hash}`, { method: "PUT", body: Readable.from([blob.subarray(0, 4), blob.subarray(4)]) })).status,
    ).toBe(200);
    expect((await get(s.url, `/cas/${d.hash}`)).body).toEqual(blob);
  });

  it("stream a blob larger than the in-memory read size through, verified", async () => {
    const blob = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) & 0xff;
    const d = digestOf(blob);
    expect((await put(s.url, `/cas/${d.hash}`, blob)).status).toBe(200);
    const got = await get(s.url, `/cas/${d.hash}`);
    expect(got.status).toBe(200);
    expect(digestOf(got.body)).toEqual(d);
    await until(() => s.accessLog.some((e) => e.method === "GET" && e.path === `/cas/${d.hash}`));
    expect(s.accessLog.find((e) => e.method === "GET" && e.path === `/cas/${d.hash}`)).toMatchObject({
      status: 200,
      bytesOut: blob.length,
    });
    expect(s.accessLog.find((e) => e.method === "PUT" && e.path === `/cas/${d.hash}`)).toMatchObject({ status: 200, bytesIn: blob.length });
  });
});

describe("operations", () => {
  it("GET /status answers without a token", async () => {
    const res = await get(s.url, "/status");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ healthy: true, state: "serving", maxSize: 10 * 2 ** 30 });
    expect(JSON.parse(res.body.toString()).casBlobs).toBeGreaterThan(0);
  });

  it("GET /metrics counts hits, misses, bytes and refusals in Prometheus text", async () => {
    await put(s.url, `/cas/${"1".repeat(64)}`, "wrong");
    const text = (await get(s.url, "/metrics")).body.toString();
    expect(text).toMatch(/^# TYPE hb_cache_hits_total counter$/m);
    expect(Number(/^hb_cache_hits_total\{kind="cas"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^hb_cache_misses_total\{kind="ac"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^hb_cache_refused_uploads_total\{reason="hash_mismatch"\} [1-9]/m);
    expect(text).toMatch(/^hb_cache_received_bytes_total [1-9]/m);
    expect(text).toMatch(/^hb_cache_evictions_total 0$/m);
  });

  it("logs one structured line per request", async () => {
    const before = s.accessLog.length;
    await get(s.url, `/main/cas/${"2".repeat(64)}`);
    const line = s.accessLog[before]!;
    expect(line).toMatchObject({
      method: "GET",
      path: `/main/cas/${"2".repeat(64)}`,
      instance: "main",
      status: 404,
      tokenName: "anonymous",
    });
    expect(typeof line.durationMs).toBe("number");
    expect(new Date(line.time).getTime()).toBeGreaterThan(0);
  });

  it("refuses other methods with 405", async () => {
    const res = await request(s.url, `/cas/${"3".repeat(64)}`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD, PUT");
  });
});
