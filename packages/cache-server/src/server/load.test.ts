// The server under load, as a real process: 64 clients at once, a mix of GETs that hit and miss
// and PUTs of new blobs from 100 bytes to 10 MiB. No request may fail or be refused.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { peakRssBytes } from "../testing/cli";
import { serverProcesses } from "../testing/server-processes";
import { tempDir } from "../testing/server";
import { runLoad } from "../testing/stress";
import { figure, suiteSize } from "../testing/suite-size";

const SECONDS = suiteSize(8, 60);

const { serve } = serverProcesses();

describe("the server under load", () => {
  it(`serves 64 clients for ${SECONDS} s (90% GETs, hits and misses, 10% PUTs of 100 B to 10 MiB) without one failed request`, async () => {
    const dir = join(tempDir(), "cache");
    const server = await serve(["--dir", dir, "--access-log", join(dir, "..", "access.log")]);
    const r = await runLoad(server.url, {
      clients: 64,
      seconds: SECONDS,
      putShare: 0.1,
      missShare: 0.2,
      minSize: 100,
      maxSize: 10 << 20,
      seedBlobs: 200,
    });
    const peak = peakRssBytes(server.pid);
    figure(
      "server-load",
      `64 clients, ${r.seconds.toFixed(1)} s: ${r.requests} requests (${r.byKind.hit} hits, ${r.byKind.miss} misses, ${r.byKind.put} PUTs), ${r.perSecond.toFixed(0)} requests/s, ${(r.bytes / r.seconds / 2 ** 20).toFixed(0)} MiB/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms; ${r.errors.length} errors; server peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.byKind.hit).toBeGreaterThan(0);
    expect(r.byKind.miss).toBeGreaterThan(0);
    expect(r.byKind.put).toBeGreaterThan(0);
    expect(peak).toBeLessThan(150 * 2 ** 20);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  }, 180_000);
});
