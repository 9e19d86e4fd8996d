import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DigestThread, inlineDigest } from "./digest-thread";

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
      da.update(a.subarray(at, at + step));
      if (at < b.length) db.update(b.subarray(at, Math.min(b.length, at + step)));
    }
    expect(await db.digest()).toBe(sha256(b));
    expect(await da.digest()).toBe(sha256(a));
    expect(await thread.start().digest()).toBe(sha256(new Uint8Array()));
  });

  it("asks its producer to wait once 8 MiB are at the thread, and lets it go on once hashed", async () => {
    thread = new DigestThread();
    const d = thread.start();
    const big = randomBytes(20 << 20);
    expect(d.update(big)).toBe(false);
    await d.ready();
    expect(d.update(big.subarray(0, 10))).toBe(true);
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

  it("has an inline twin with the same answers", async () => {
    const d = inlineDigest();
    d.update(Buffer.from("ab"));
    d.update(Buffer.from("c"));
    expect(await d.digest()).toBe(sha256(Buffer.from("abc")));
  });
});
