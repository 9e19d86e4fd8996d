// Hostile HTTP: requests made of odd methods, paths, headers, chunked bodies and ranges, sent raw.
// Each gets a 2xx or 4xx answer (a miss is 404), or its connection closed; never a 5xx, never a
// crash, never a hang, and nothing stored but whole, verified entries.
import { readdirSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get } from "../testing/http-client";
import { digestOf } from "../testing/protobuf";
import { type TestServer, filesUnder, removeTempDirs, startTestServer, tempDir, writeTokens } from "../testing/server";
import { figure, suiteSize } from "../testing/suite-size";

const RUNS = suiteSize(250, 5000);
const TOKEN = "fuzz-0123456789abcdef-write";
const KNOWN = Buffer.from("a blob the fuzzer may find");
const known = digestOf(KNOWN);

let s: TestServer;
beforeAll(async () => {
  const tokensFile = writeTokens(tempDir(), {
    anonymousRead: true,
    tokens: [{ name: "fuzz", token: TOKEN, scopes: ["read", "write"], instances: ["*"] }],
  });
  s = await startTestServer({ tokensFile, maxUpload: 1 << 20, slowClientMs: 2000 });
});
afterAll(async () => {
  await s.stop();
  removeTempDirs();
});

/** Sends `raw` and reads until the server closes the connection; the status line's code, or 0 for none. */
function exchange(raw: Buffer): Promise<{ status: number; answer: string; ms: number }> {
  const { port } = new URL(s.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.end(raw));
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), answer, ms: Date.now() - started }));
    socket.setTimeout(10_000, () => reject(new Error(`no end to the exchange after 10 s:\n${raw.toString("latin1").slice(0, 300)}`)));
  });
}

const path = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      `/cas/${known.hash}`,
      `/main/cas/${known.hash}`,
      `/ac/${"a".repeat(64)}`,
      "/status",
      "/metrics",
      "/../etc/passwd",
      "/cas/../../x",
      "/%2e%2e/cas/x",
      `/a/b/cas/${known.hash}`,
      `/cas/${known.hash.toUpperCase()}`,
      `/./cas/${known.hash}`,
      "*",
      "http://evil/cas/x",
      `/${"i".repeat(300)}/cas/${known.hash}`,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.constantFrom(..."/acs.%?#0123456789abcdef".split("")), maxLength: 90 }).map((p) => `/${p}`),
  },
);
const method = fc.constantFrom(
  "GET",
  "HEAD",
  "PUT",
  "DELETE",
  "POST",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
  "GET ",
  "get",
  "X".repeat(40),
);
const header = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "Content-Length: 5",
      "Content-Length: -1",
      "Content-Length: 99999999999999999999",
      "Content-Length: 3, 4",
      "Transfer-Encoding: chunked",
      "Transfer-Encoding: gzip, chunked",
      "Transfer-Encoding: identity",
      "Expect: 100-continue",
      "Range: bytes=0-3",
      "Range: bytes=-1",
      "Range: bytes=9999999999-",
      "Range: pages=1",
      `Authorization: Bearer ${TOKEN}`,
      "Authorization: Bearer wrong-0123456789abcdef",
      "Authorization: Basic !!!",
      "Authorization: Basic " + Buffer.from(`u:${TOKEN}`).toString("base64"),
      "Connection: keep-alive",
      "Host:",
      `X-Long: ${"v".repeat(9000)}`,
      "Bad Header: x",
      "\x00: \x01",
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 })).map(([k, v]) => `${k}: ${v}`) },
);
const body = fc.oneof(
  fc.constant(""),
  fc.constant(KNOWN.toString("latin1")),
  fc.string({ maxLength: 200 }),
  fc
    .array(fc.tuple(fc.nat(40), fc.string({ maxLength: 40 })), { maxLength: 4 })
    .map((chunks) => chunks.map(([n, c]) => `${n.toString(16)}\r\n${c}\r\n`).join("") + "0\r\n\r\n"),
  fc.constantFrom("zz\r\nabc\r\n0\r\n\r\n", "5\r\nab", "ffffffffffffffff\r\nx\r\n", "0\r\nTrailer: x\r\n\r\n"),
);
const request = fc
  .record({
    method,
    path,
    version: fc.oneof({ weight: 8, arbitrary: fc.constant("HTTP/1.1") }, fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", "")),
    headers: fc.array(header, { maxLength: 6 }),
    body,
  })
  // a body only where one is expected: after a GET it would be a second, pipelined request
  .map((r) => {
    const head = `${r.method} ${r.path} ${r.version}\r\nHost: cache\r\n${r.headers.map((h) => `${h}\r\n`).join("")}\r\n`;
    return Buffer.from(head + (r.method === "PUT" || r.method === "POST" ? r.body : ""), "latin1");
  });

describe("hostile HTTP requests", () => {
  it(`${RUNS} raw requests: each a 2xx/4xx or a closed connection, none a 5xx; the server serves on`, async () => {
    const statuses = new Map<number, number>();
    let slowest = 0;
    await fc.assert(
      fc.asyncProperty(request, async (raw) => {
        const r = await exchange(raw);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        slowest = Math.max(slowest, r.ms);
        expect(r.status < 500, `${r.answer.slice(0, 200)}\nfor:\n${raw.toString("latin1").slice(0, 300)}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
    expect((await get(s.url, "/status")).status).toBe(200);
    expect(s.messages.filter((m) => /internal error/.test(m))).toEqual([]);
    // nothing stored outside the store, and nothing in it that is not whole
    expect(readdirSync(dirname(s.dir)).sort()).toEqual(["cache"]);
    // an upload cut off leaves its temporary file until its handler has closed and removed it
    for (let i = 0; i < 100 && filesUnder(join(s.dir, "tmp")).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(filesUnder(join(s.dir, "tmp"))).toEqual([]);
    for (const f of filesUnder(join(s.dir, "blobs")))
      expect(f).toMatch(/\/cas\/[0-9a-f]{2}\/[0-9a-f]{64} \d+$|\/ac\/[0-9a-f]{2}\/[0-9a-f]{64} \d+$/);
    const byStatus = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([st, n]) => `${st || "closed"}: ${n}`)
      .join(", ");
    figure("fuzz", `HTTP requests: ${RUNS} cases, 0 crashes, 0 5xx (${byStatus}), slowest ${slowest} ms`);
  }, 300_000);
});
