import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HbError } from "../../base/errors";
import { parseServerRefusals, readServerRefusals } from "./server-metrics";

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((done) => s.close(done).closeAllConnections());
});

/** A server on 127.0.0.1 answering every request with `answer` (none: it never answers). */
async function serve(answer?: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer((req, res) => answer?.(req, res));
  servers.push(s);
  await new Promise<void>((done) => s.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const METRICS = [
  "# TYPE hb_cache_refused_uploads_total counter",
  'hb_cache_refused_uploads_total{reason="unauthorized"} 7',
  'hb_cache_refused_uploads_total{reason="hash_mismatch"} 2',
  'hb_cache_refused_uploads_total{reason="ac_key_mismatch"} 1',
  'hb_cache_refused_uploads_total{reason="disk_full"} 3',
  'hb_cache_refused_reads_total{reason="bad_path"} 4',
  "hb_cache_corrupt_entries_total 1",
].join("\n");

describe("the team cache's refusals from /metrics", () => {
  it("counts the correctness refusals by the server's reason names, and corrupt entries; not auth, paths or a full disk", () => {
    expect(parseServerRefusals("http://cache", METRICS)).toEqual({
      url: "http://cache",
      refused: { hash_mismatch: 2, ac_key_mismatch: 1 },
      corruptEntries: 1,
      total: 4,
    });
  });

  it("reads them with the token, and says what went wrong when it cannot: the status, the cause, or no answer in time", async () => {
    let auth: string | undefined;
    const ok = await serve((req, res) => {
      auth = req.headers.authorization;
      res.end(METRICS);
    });
    expect((await readServerRefusals({ url: ok, token: "t0k" }, new AbortController().signal)).total).toBe(4);
    expect(auth).toBe("Bearer t0k");

    const denied = await serve((_req, res) => res.writeHead(401).end());
    await expect(readServerRefusals({ url: denied }, new AbortController().signal)).rejects.toMatchObject({
      code: "REMOTE_CACHE_FAILED",
      message: `cannot read ${denied}/metrics: HTTP 401 Unauthorized`,
    });

    const closed = await serve();
    await new Promise((done) => servers.pop()!.close(done));
    await expect(readServerRefusals({ url: closed }, new AbortController().signal)).rejects.toMatchObject({
      code: "REMOTE_CACHE_FAILED",
      message: `cannot read ${closed}/metrics: fetch failed: ECONNREFUSED`,
    });

    const silent = await serve();
    const started = Date.now();
    await expect(readServerRefusals({ url: silent }, new AbortController().signal, 300)).rejects.toMatchObject({
      code: "REMOTE_CACHE_FAILED",
      message: `cannot read ${silent}/metrics: no answer in 0.3 s`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("stops waiting when the command is interrupted, as interrupted", async () => {
    const silent = await serve();
    const interrupt = new AbortController();
    const reading = readServerRefusals({ url: silent }, interrupt.signal);
    setTimeout(() => interrupt.abort(new HbError("INTERRUPTED", "interrupted")), 100);
    await expect(reading).rejects.toMatchObject({ code: "INTERRUPTED" });
  });
});
