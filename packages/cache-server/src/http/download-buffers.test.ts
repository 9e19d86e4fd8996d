import { describe, expect, it } from "vitest";
import { CHUNK, DownloadBuffers, MAX_PER_DOWNLOAD, SMALL_CHUNK } from "./download-buffers";

describe("DownloadBuffers", () => {
  it("gives one download alone up to six pooled buffers, then makes it wait for its own", () => {
    const pool = new DownloadBuffers(8);
    const d = pool.lease();
    const taken = Array.from({ length: MAX_PER_DOWNLOAD }, () => d.take());
    expect(taken.every((b) => b?.length === CHUNK)).toBe(true);
    expect(d.take()).toBeUndefined();
    d.give(taken[0]!);
    expect(d.take()).toBe(taken[0]);
    expect(pool.size).toBe(MAX_PER_DOWNLOAD);
  });

  it("never holds more than its capacity, however many downloads: the rest read through a small buffer each, and all make progress", () => {
    const pool = new DownloadBuffers(8);
    const leases = Array.from({ length: 32 }, () => pool.lease());
    const first = leases.map((l) => l.take());
    expect(first.every((b) => b !== undefined)).toBe(true);
    expect(first.filter((b) => b!.length === CHUNK)).toHaveLength(8);
    expect(first.filter((b) => b!.length === SMALL_CHUNK)).toHaveLength(24);
    expect(pool.size).toBe(8);
    // each waits for its one buffer to come back
    expect(leases.every((l) => l.take() === undefined)).toBe(true);
    leases.forEach((l, i) => l.give(first[i]!));
    expect(leases.every((l) => l.take() !== undefined)).toBe(true);
    expect(pool.size).toBe(8);
  });

  it("writes off what a download cut short never gets back, so the pool is not shrunk by it", () => {
    const pool = new DownloadBuffers(2);
    const cut = pool.lease();
    const held = [cut.take()!, cut.take()!];
    cut.end(true);
    const next = pool.lease();
    expect(next.take()?.length).toBe(CHUNK);
    expect(next.take()?.length).toBe(CHUNK);
    // a late callback of the cut download returns nothing to the pool
    cut.give(held[0]!);
    expect(pool.size).toBe(2);
    next.end(false);
  });
});
