// Slowloris: clients trickling their headers or bodies a byte at a time, or no longer reading a
// download, are dropped once `slowClientMs` passes; everyone else is served as usual meanwhile,
// and an idle keep-alive connection is left alone.
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, put } from "../testing/http-client";
import { digestOf } from "../testing/protobuf";
import { type TestServer, removeTempDirs, startTestServer } from "../testing/server";
import { GeneratedBlob, idleConnections, trickle, upload } from "../testing/stress";
import { figure, suiteSize } from "../testing/suite-size";

const SLOW_MS = 800;
const SLOWLORIS = suiteSize(20, 200);

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ slowClientMs: SLOW_MS });
});
afterAll(async () => {
  await s.stop();
  removeTempDirs();
});

/** Refusals for `reason`, uploads and other requests together. */
const refusals = (reason: string) =>
  [...s.server.metrics().matchAll(new RegExp(`^hb_cache_refused_(?:uploads|reads)_total\\{reason="${reason}"\\} (\\d+)$`, "gm"))]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0);

describe("slow clients", () => {
  it(`${SLOWLORIS} slowloris clients (headers and bodies at a byte every 100 ms) are dropped, while others are served and idle keep-alive connections kept`, async () => {
    const blob = Buffer.from("served while slowloris clients wait");
    const d = digestOf(blob);
    expect((await put(s.url, `/cas/${d.hash}`, blob)).status).toBe(200);
    const idle = await idleConnections(s.url, 20);
    const slowHeaders = `GET /cas/${d.hash} HTTP/1.1\r\nHost: x\r\nX-Padding: ${"p".repeat(200)}\r\n\r\n`;
    const slowBody = [`PUT /cas/${"5".repeat(64)} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`, "b".repeat(100_000)] as const;
    const started = Date.now();
    const slow = Array.from({ length: SLOWLORIS }, (_, i) =>
      i % 2 === 0 ? trickle(s.url, "", slowHeaders, 100, 20_000) : trickle(s.url, slowBody[0], slowBody[1], 100, 20_000),
    );
    // everyone else meanwhile: prompt answers
    const latencies: number[] = [];
    while (Date.now() - started < SLOW_MS * 3) {
      const t = Date.now();
      const r = await get(s.url, `/cas/${d.hash}`);
      expect(r.body).toEqual(blob);
      latencies.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 50));
    }
    const dropped = await Promise.all(slow);
    for (const [i, t] of dropped.entries()) {
      // dropped within the limit and the time Node takes to look (a quarter of it), well before giving up
      expect(t.ms, JSON.stringify(t)).toBeLessThan(SLOW_MS * 4);
      expect(t.answer).toMatch(/^HTTP\/1\.1 408 /);
      if (i % 2 === 1) expect(t.answer).toContain("the body arrived too slowly");
    }
    expect(Math.max(...latencies)).toBeLessThan(500);
    expect(idle.alive()).toBe(20);
    idle.close();
    expect(refusals("slow_client")).toBe(SLOWLORIS);
    expect(s.accessLog.filter((e) => e.reason === "slow_client").length).toBe(SLOWLORIS / 2);
    figure(
      "slow-clients",
      `${SLOWLORIS} slowloris clients dropped in at most ${Math.max(...dropped.map((t) => t.ms))} ms (limit ${SLOW_MS} ms); others' GETs meanwhile: max ${Math.max(...latencies)} ms`,
    );
  }, 30_000);

  it("a download whose client stops reading is cut once it stalls, and its buffers serve others", async () => {
    const b = new GeneratedBlob(8, 32 << 20);
    expect((await upload(s.url, `/cas/${b.hash}`, b)).status).toBe(200);
    const { hostname, port } = new URL(s.url);
    const logged = s.accessLog.length;
    const started = Date.now();
    const req = httpRequest({ host: hostname, port, path: `/cas/${b.hash}`, agent: false }, (res) => {
      // reads one chunk, never again: the kernel's buffers fill, then the server's writes stall
      res.once("data", () => res.pause());
    });
    req.on("error", () => undefined);
    req.end();
    // the server's side of it (a paused client does not notice its connection closing)
    while (!s.accessLog.slice(logged).some((e) => e.method === "GET")) {
      expect(Date.now() - started).toBeLessThan(SLOW_MS * 6);
      await new Promise((r) => setTimeout(r, 50));
    }
    const line = s.accessLog.slice(logged).find((e) => e.method === "GET")!;
    expect(line.bytesOut).toBeLessThan(b.size);
    req.destroy();
    const whole = await get(s.url, `/cas/${b.hash}`);
    expect(whole.body.length).toBe(b.size);
  });
});
