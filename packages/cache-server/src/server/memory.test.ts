// The server's memory stays bounded whatever its clients do: many large downloads and uploads at
// once (fast, slow, cut off midway) with a thousand idle keep-alive connections open. Measured on
// the real process (`hb cache serve`), by its peak RSS from /proc.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { peakRssBytes } from "../testing/cli";
import { serverProcesses } from "../testing/server-processes";
import { get, head } from "../testing/http-client";
import { tempDir } from "../testing/server";
import { GeneratedBlob, type Pace, download, idleConnections, upload } from "../testing/stress";
import { figure, suiteSize } from "../testing/suite-size";

const MiB = 1 << 20;
const BLOB = suiteSize(16, 64) * MiB;
const DOWNLOADS = 32;
const UPLOADS = 32;
const IDLE = 1000;
const LIMIT = 150 * MiB;

const { serve } = serverProcesses();

/** Every fourth client is slow, every fourth cut off somewhere in the middle, the rest as fast as they can. */
function paceOf(i: number, size: number): Pace {
  if (i % 4 === 1) return { bytesPerSecond: size / 4 };
  if (i % 4 === 2) return { abortAfter: Math.floor((size * (i + 1)) / (DOWNLOADS + 2)) };
  return {};
}

describe("the server's memory", () => {
  it(`stays under 150 MiB with ${DOWNLOADS} downloads and ${UPLOADS} uploads of ${BLOB / MiB} MiB at once and ${IDLE} idle keep-alive connections`, async () => {
    const dir = join(tempDir(), "cache");
    const server = await serve(["--dir", dir, "--access-log", join(dir, "..", "access.log")]);
    const url = server.url;
    const served = [0, 1, 2, 3].map((seed) => new GeneratedBlob(seed, BLOB));
    for (const b of served) expect((await upload(url, `/cas/${b.hash}`, b)).status).toBe(200);
    const idle = await idleConnections(url, IDLE);
    const started = Date.now();

    const uploads = Array.from({ length: UPLOADS }, (_, i) => new GeneratedBlob(100 + i, BLOB));
    const downloading = Array.from({ length: DOWNLOADS }, (_, i) =>
      download(url, `/cas/${served[i % served.length]!.hash}`, paceOf(i, BLOB)),
    );
    const uploading = uploads.map((b, i) => upload(url, `/cas/${b.hash}`, b, paceOf(i, BLOB)));
    // a small request is answered promptly while all of that is under way
    await new Promise((r) => setTimeout(r, 500));
    const probeStarted = Date.now();
    expect((await get(url, "/status")).status).toBe(200);
    const probeMs = Date.now() - probeStarted;

    const downloads = await Promise.all(downloading);
    const uploaded = await Promise.all(uploading);
    const seconds = (Date.now() - started) / 1000;
    const peak = peakRssBytes(server.pid);

    downloads.forEach((d, i) => {
      if (paceOf(i, BLOB).abortAfter !== undefined) return expect(d.aborted).toBe(true);
      expect(d).toMatchObject({ status: 200, bytes: BLOB, sha256: served[i % served.length]!.hash });
    });
    for (const [i, u] of uploaded.entries()) {
      const stored = (await head(url, `/cas/${uploads[i]!.hash}`)).status;
      if (paceOf(i, BLOB).abortAfter !== undefined) expect(stored).toBe(404);
      else expect([u.status, stored]).toEqual([200, 200]);
    }
    expect(idle.alive()).toBe(IDLE);
    idle.close();
    figure(
      "server-memory",
      `${DOWNLOADS} downloads + ${UPLOADS} uploads of ${BLOB / MiB} MiB, ${IDLE} idle connections: peak RSS ${(peak / MiB).toFixed(1)} MiB (limit 150), ${seconds.toFixed(1)} s, /status answered in ${probeMs} ms meanwhile`,
    );
    expect(peak).toBeLessThan(LIMIT);
    expect(probeMs).toBeLessThan(2000);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  }, 300_000);
});
