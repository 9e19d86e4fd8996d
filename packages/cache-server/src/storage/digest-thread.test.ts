import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DigestThread, SLICE_BUDGET, inlineDigest } from "./digest-thread";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let thread: DigestThread;
afterEach(() => thread?.close());

describe("DigestThread", () => {
  it("hashes what it is given, in chunks of any size across its 1 MiB slices, each stream apart", async () => {
    thread = new DigestThread();
    const a = randomBytes(3 * (1 << 20) + 12345);
    const b = randomBytes(70_000);
    const da = thread.start();
    const db = thread.start();
    for (let at = 0, step = 1; at < a.length; at += step, step = (step * 7 + 3) % 300_000) {
      if (!da.update(a.subarray(at, at + step))) await da.ready();
      if (at < b.length && !db.update(b.subarray(at, Math.min(b.length, at + step)))) await db.ready();
    }
    expect(await db.digest()).toBe(sha256(b));
    expect(await da.digest()).toBe(sha256(a));
    expect(await thread.start().digest()).toBe(sha256(new Uint8Array()));
  });

  it("keeps to its slice budget for all streams together: the others wait their turn, and all digests come out right", async () => {
    thread = new DigestThread();
    const bodies = Array.from({ length: 40 }, () => randomBytes((2 << 20) + 17));
    const streams = bodies.map(() => thread.start());
    const waited = streams.map((d, i) => !d.update(bodies[i]!));
    expect(thread.slicesAllocated).toBe(SLICE_BUDGET);
    expect(waited.filter(Boolean).length).toBeGreaterThan(40 - SLICE_BUDGET / 2 - 1);
    const digests = await Promise.all(streams.map(async (d) => (await d.ready(), d.digest())));
    expect(digests).toEqual(bodies.map(sha256));
    expect(thread.slicesAllocated).toBeLessThanOrEqual(SLICE_BUDGET);
  });

  it("asks its producer to wait once its slices are all taken, and lets it go on once hashed", async () => {
    thread = new DigestThread();
    const d = thread.start();
    const big = randomBytes(20 << 20);
    expect(d.update(big)).toBe(false);
    expect(thread.slicesAllocated).toBe(SLICE_BUDGET);
    await d.ready();
    if (!d.update(big.subarray(0, 10))) await d.ready();
    expect(await d.digest()).toBe(sha256(Buffer.concat([big, big.subarray(0, 10)])));
  });

  it("forgets a dropped stream and keeps serving the others; a stop fails a stream in progress", async () => {
    thread = new DigestThread();
    const dropped = thread.start();
    dropped.update(randomBytes(5 << 20));
    dropped.drop();
    const kept = thread.start();
    kept.update(Buffer.from("abc"));
    expect(await kept.digest()).toBe(sha256(Buffer.from("abc")));
    const cut = thread.start();
    cut.update(randomBytes(1 << 20));
    const outcome = cut.digest().then(
      () => "a digest",
      (e: Error) => e.message,
    );
    await thread.close();
    expect(await outcome).toMatch(/stopped/);
  });

  it("does not let streams that wait for their producers starve the others of slices", async () => {
    thread = new DigestThread();
    // as many uploads as there are slices each trickle in 64 KiB and then wait on their clients
    const idle = Array.from({ length: SLICE_BUDGET }, () => thread.start());
    for (const d of idle) expect(d.update(randomBytes(64 << 10))).toBe(true);
    const busy = thread.start();
    const body = randomBytes(3 << 20);
    if (!busy.update(body)) await busy.ready();
    expect(await busy.digest()).toBe(sha256(body));
    const dropped = thread.start();
    if (!dropped.update(randomBytes(20 << 20))) {
      const waiting = dropped.ready();
      dropped.drop();
      await waiting;
    }
    expect(() => busy.update(Buffer.from("x"))).toThrow(/after digest/);
  });

  it("has an inline twin with the same answers", async () => {
    const d = inlineDigest();
    d.update(Buffer.from("ab"));
    d.update(Buffer.from("c"));
    expect(await d.digest()).toBe(sha256(Buffer.from("abc")));
  });
});
