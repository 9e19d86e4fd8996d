import { connect } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hbEntry, hbEntryFromPayload, hbPayload } from "../testing/hb-entry";
import { type Reply, get, put, request } from "../testing/http-client";
import { digestOf, encodeActionResult } from "../testing/protobuf";
import { type TestServer, filesUnder, removeTempDirs, startTestServer, tempDir, writeTokens } from "../testing/server";

const CI = "ci-0123456789abcdef-write";
const DEV = "dev-0123456789abcdef-read";
const PR = "pr-0123456789abcdef-prwrite";

let s: TestServer;
beforeAll(async () => {
  const tokensFile = writeTokens(tempDir(), {
    anonymousRead: false,
    tokens: [
      { name: "ci", token: CI, scopes: ["read", "write"], instances: ["*"] },
      { name: "dev", token: DEV, scopes: ["read"], instances: ["*"] },
      { name: "pr", token: PR, scopes: ["read", "write"], instances: ["pr"] },
    ],
  });
  s = await startTestServer({ tokensFile, maxUpload: 64 * 1024 });
});
afterAll(async () => {
  await s.stop();
  const everything = JSON.stringify(s.accessLog) + s.messages.join("\n");
  for (const t of [CI, DEV, PR]) expect(everything).not.toContain(t);
  removeTempDirs();
});

const blobs = () => filesUnder(join(s.dir, "blobs"));
const tmp = () => filesUnder(join(s.dir, "tmp"));

/** The request is refused with `status` and leaves no file behind, stored or temporary. */
async function refused(status: number, send: () => Promise<Reply>): Promise<Reply> {
  const before = blobs();
  const res = await send();
  expect(res.status, res.body.toString()).toBe(status);
  expect(blobs()).toEqual(before);
  expect(tmp()).toEqual([]);
  return res;
}

describe("authorization comes first", () => {
  const blob = Buffer.from("authorized bytes");
  const d = digestOf(blob);

  it("401 without a token, for reads and writes, before the body is looked at", async () => {
    await refused(401, () => get(s.url, `/cas/${d.hash}`));
    const res = await refused(401, () => put(s.url, `/cas/${d.hash}`, "not even the right bytes"));
    expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
    await refused(401, () => get(s.url, "/metrics"));
  });

  it("401 for an unknown or malformed token", async () => {
    await refused(401, () => put(s.url, `/cas/${d.hash}`, blob, `${CI}x`));
    await refused(401, () => get(s.url, `/cas/${d.hash}`, "no-such-token-0123456789"));
    await refused(401, () => request(s.url, `/cas/${d.hash}`, { method: "PUT", body: blob, headers: { Authorization: "Basic !!!" } }));
  });

  it("403 for a write with a read-only token", async () => {
    await refused(403, () => put(s.url, `/cas/${d.hash}`, blob, DEV));
    expect((await get(s.url, `/cas/${d.hash}`, DEV)).status).toBe(404);
  });

  it("403 for a token without the instance", async () => {
    await refused(403, () => put(s.url, `/main/cas/${d.hash}`, blob, PR));
    await refused(403, () => put(s.url, `/cas/${d.hash}`, blob, PR));
    await refused(403, () => get(s.url, `/main/cas/${d.hash}`, PR));
    expect((await put(s.url, `/pr/cas/${d.hash}`, blob, PR)).status).toBe(200);
  });

  it("accepts the token as a basic-auth password with any user name, as Bazel sends it", async () => {
    const basic = `Basic ${Buffer.from(`bazel:${CI}`).toString("base64url")}`;
    expect((await request(s.url, `/cas/${d.hash}`, { method: "PUT", body: blob, headers: { Authorization: basic } })).status).toBe(200);
    expect((await request(s.url, `/cas/${d.hash}`, { headers: { Authorization: basic } })).body).toEqual(blob);
    expect(s.accessLog.at(-1)?.tokenName).toBe("ci");
  });

  it("an upload that waits for 100 Continue is refused before its body is invited", async () => {
    const raw = (headers: string) =>
      new Promise<string>((resolve) => {
        const sock = connect(Number(new URL(s.url).port), "127.0.0.1", () =>
          sock.write(`PUT /cas/${d.hash} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${blob.length}\r\nExpect: 100-continue\r\n\r\n`),
        );
        let text = "";
        sock.on("data", (c) => {
          text += c;
          if (text.includes("\r\n\r\n")) sock.destroy();
        });
        sock.on("close", () => resolve(text));
      });
    expect(await raw("")).toMatch(/^HTTP\/1\.1 401 /);
    expect(await raw(`Authorization: Bearer ${DEV}\r\n`)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await raw(`Authorization: Bearer ${CI}\r\n`)).toMatch(/^HTTP\/1\.1 100 Continue/);
  });

  it("GET /status needs no token", async () => {
    expect((await get(s.url, "/status")).status).toBe(200);
  });
});

describe("uploads that would poison the cache are refused and store nothing", () => {
  it("a CAS blob whose bytes do not hash to its name (400)", async () => {
    const d = digestOf("the real bytes");
    await refused(400, () => put(s.url, `/cas/${d.hash}`, "other bytes", CI));
    await refused(400, () =>
      request(s.url, `/cas/${d.hash}`, { method: "PUT", body: Readable.from([Buffer.from("streamed other bytes")]), token: CI }),
    );
    expect((await get(s.url, `/cas/${d.hash}`, CI)).status).toBe(404);
  });

  it.each([
    ["../", `/../cas/${"a".repeat(64)}`],
    ["%2e%2e", `/%2e%2e/cas/${"a".repeat(64)}`],
    ["%2e%2e in the key", `/cas/%2e%2e%2f%2e%2e%2fetc`],
    ["an extra segment", `/a/b/cas/${"a".repeat(64)}`],
    ["a traversal key", `/cas/../../../../tmp/x`],
    ["a short hash", `/cas/${"a".repeat(63)}`],
    ["an uppercase hash", `/ac/${"A".repeat(64)}`],
    ["a non-hex hash", `/cas/${"g".repeat(64)}`],
  ])("a path with %s (400)", async (_what, path) => {
    await refused(400, () => put(s.url, path, "bytes", CI));
    await refused(400, () => get(s.url, path, CI));
  });

  it("a body over --max-upload (413), from Content-Length or while streaming", async () => {
    const big = Buffer.alloc(64 * 1024 + 1, 1);
    const d = digestOf(big);
    await refused(413, () => put(s.url, `/cas/${d.hash}`, big, CI));
    const chunks = Readable.from([big.subarray(0, 40_000), big.subarray(40_000)]);
    await refused(413, () => request(s.url, `/cas/${d.hash}`, { method: "PUT", body: chunks, token: CI }));
  });

  it("a body shorter than its Content-Length (400, or the connection is gone)", async () => {
    const d = digestOf("twenty bytes exactly");
    const before = blobs();
    const reply = await new Promise<string>((resolve) => {
      const sock = connect(Number(new URL(s.url).port), "127.0.0.1", () => {
        sock.end(`PUT /cas/${d.hash} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CI}\r\nContent-Length: 20\r\n\r\ntwenty`);
      });
      let text = "";
      sock.on("data", (c) => (text += c));
      sock.on("close", () => resolve(text));
      sock.on("error", () => resolve(text));
    });
    if (reply) expect(reply).toMatch(/^HTTP\/1\.1 400/);
    await new Promise((r) => setTimeout(r, 50));
    expect(blobs()).toEqual(before);
    expect(tmp()).toEqual([]);
  });

  it("an AC entry naming a blob the CAS does not have (400), hb or Bazel", async () => {
    const missing = digestOf("never uploaded");
    const key = "1a".repeat(32);
    await refused(400, () => put(s.url, `/ac/${key}`, hbEntry(key, "", [{ path: "hb-out/x", ...missing }]), CI));
    await refused(400, () => put(s.url, `/ac/${key}`, encodeActionResult({ files: [{ path: "x", digest: missing }] }), CI));
    await refused(400, () => put(s.url, `/ac/${key}`, encodeActionResult({ stdout: missing }), CI));
    await refused(400, () => put(s.url, `/ac/${key}`, encodeActionResult({ dirs: [{ path: "d", tree: missing }] }), CI));
  });

  it("an AC entry naming a blob with the right hash but another size (400)", async () => {
    const blob = Buffer.from("sized blob");
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob, CI);
    const key = "1b".repeat(32);
    await refused(400, () =>
      put(s.url, `/ac/${key}`, encodeActionResult({ files: [{ path: "x", digest: { hash: d.hash, size: d.size + 1 } }] }), CI),
    );
  });

  it("an AC entry in neither format (400)", async () => {
    const key = "1c".repeat(32);
    await refused(400, () => put(s.url, `/ac/${key}`, "just some text", CI));
    await refused(400, () => put(s.url, `/ac/${key}`, Buffer.alloc(0), CI));
  });

  it("an hb AC entry for another action key or instance (400)", async () => {
    const blob = Buffer.from("hb output");
    const d = digestOf(blob);
    await put(s.url, `/main/cas/${d.hash}`, blob, CI);
    const key = "2a".repeat(32);
    await refused(400, () => put(s.url, `/main/ac/${key}`, hbEntry("2b".repeat(32), "main", [{ path: "hb-out/x", ...d }]), CI));
    await refused(400, () => put(s.url, `/main/ac/${key}`, hbEntry(key, "pr", [{ path: "hb-out/x", ...d }]), CI));
    await refused(400, () => put(s.url, `/main/ac/${key}`, hbEntry(key, "", [{ path: "hb-out/x", ...d }]), CI));
    const refusals = (await get(s.url, "/metrics", CI)).body.toString();
    expect(refusals).toMatch(/^hb_cache_refused_uploads_total\{reason="ac_key_mismatch"\} 3$/m);
    expect((await put(s.url, `/main/ac/${key}`, hbEntry(key, "main", [{ path: "hb-out/x", ...d }]), CI)).status).toBe(200);
  });

  it("an AC overwrite with other bytes (409), while the same bytes again succeed", async () => {
    const blob = Buffer.from("write once");
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob, CI);
    const key = "3a".repeat(32);
    const first = hbEntry(key, "", [{ path: "hb-out/x", ...d }]);
    expect((await put(s.url, `/ac/${key}`, first, CI)).status).toBe(200);
    expect((await put(s.url, `/ac/${key}`, first, CI)).status).toBe(200);
    const other = hbEntryFromPayload({ ...hbPayload(key, "", [{ path: "hb-out/x", ...d }]), semanticsVersion: 2 });
    await refused(409, () => put(s.url, `/ac/${key}`, other, CI));
    await refused(409, () => put(s.url, `/ac/${key}`, encodeActionResult({ files: [{ path: "x", digest: d }] }), CI));
    expect((await get(s.url, `/ac/${key}`, CI)).body).toEqual(first);
  });
});
