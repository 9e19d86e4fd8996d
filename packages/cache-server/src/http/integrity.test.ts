import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { sqlite } from "@hb/core/engine";
import { afterAll, describe, expect, it } from "vitest";
import { hbEntry } from "../testing/hb-entry";
import { get, head, put } from "../testing/http-client";
import { digestOf, encodeActionResult } from "../testing/protobuf";
import { removeTempDirs, startTestServer } from "../testing/server";

afterAll(removeTempDirs);

const blobPath = (dir: string, hash: string, instance = "", kind = "cas") =>
  join(dir, "blobs", `@${instance}`, kind, hash.slice(0, 2), hash);

/** Overwrites a stored file in place with other bytes of the same size (root ignores 0444). */
function corruptInPlace(path: string): void {
  const size = statSync(path).size;
  chmodSync(path, 0o644);
  writeFileSync(path, randomBytes(size));
  chmodSync(path, 0o444);
}

/** Makes the index believe the file is as it was stored: a corruption that leaves no trace in its inode facts. */
function hideCorruption(dir: string, hash: string): void {
  const st = statSync(blobPath(dir, hash));
  const Db = sqlite();
  const db = new Db(join(dir, "index.db"));
  db.prepare("UPDATE entries SET mtime_ms = ?, ctime_ms = ?, ino = ? WHERE hash = ?").run(st.mtimeMs, st.ctimeMs, st.ino, hash);
  db.close();
}

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
}

describe("a blob corrupted on the server's disk is never served as valid", () => {
  it.each([
    ["small", 1000],
    ["large (streamed)", (2 << 20) + 1],
  ])("%s blob changed on disk: its inode facts moved, so it is re-hashed, dropped and a miss", async (_what, size) => {
    const s = await startTestServer();
    const blob = randomBytes(size);
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob);
    corruptInPlace(blobPath(s.dir, d.hash));
    expect((await head(s.url, `/cas/${d.hash}`)).status).toBe(404);
    expect((await get(s.url, `/cas/${d.hash}`)).status).toBe(404);
    expect(metric((await get(s.url, "/metrics")).body.toString(), "hb_cache_corrupt_entries_total")).toBe(1);
    expect(s.messages.some((m) => m.includes(`removed cas entry ${d.hash}`))).toBe(true);
    // the next upload heals it
    expect((await put(s.url, `/cas/${d.hash}`, blob)).status).toBe(200);
    expect((await get(s.url, `/cas/${d.hash}`)).body.equals(blob)).toBe(true);
    await s.stop();
  });

  it("a corruption invisible to stat is caught by hashing on the way out: 404 for a small blob, a cut-short body for a large one", async () => {
    let s = await startTestServer();
    const dir = s.dir;
    const small = randomBytes(2000);
    const large = randomBytes(2 << 20);
    for (const b of [small, large]) await put(s.url, `/cas/${digestOf(b).hash}`, b);
    await s.stop();
    for (const b of [small, large]) {
      corruptInPlace(blobPath(dir, digestOf(b).hash));
      hideCorruption(dir, digestOf(b).hash);
    }
    s = await startTestServer({ dir });
    expect((await get(s.url, `/cas/${digestOf(small).hash}`)).status).toBe(404);
    const outcome = await get(s.url, `/cas/${digestOf(large).hash}`).then(
      (r) => `body of ${r.body.length} bytes`,
      (e: Error) => `error: ${e.message}`,
    );
    expect(outcome).not.toBe(`body of ${large.length} bytes`);
    await new Promise((r) => setTimeout(r, 50));
    expect((await get(s.url, `/cas/${digestOf(large).hash}`)).status).toBe(404);
    expect(metric((await get(s.url, "/metrics")).body.toString(), "hb_cache_corrupt_entries_total")).toBe(2);
    await s.stop();
  });

  it("a large blob is hashed on its way out only when this process has not hashed it since its file last changed", async () => {
    let s = await startTestServer();
    const dir = s.dir;
    const large = randomBytes(2 << 20);
    const small = randomBytes(1000);
    const path = `/cas/${digestOf(large).hash}`;
    const hashedOut = async () => metric((await get(s.url, "/metrics")).body.toString(), "hb_cache_sent_hashed_bytes_total");
    await put(s.url, path, large);
    await put(s.url, `/cas/${digestOf(small).hash}`, small);
    // hashed on its way in
    expect((await get(s.url, path)).body.equals(large)).toBe(true);
    expect(await hashedOut()).toBe(0);
    // a small one is hashed on every read
    await get(s.url, `/cas/${digestOf(small).hash}`);
    await get(s.url, `/cas/${digestOf(small).hash}`);
    expect(await hashedOut()).toBe(2 * small.length);
    await s.stop();
    // a new process trusts nothing it did not hash: once, then not again
    s = await startTestServer({ dir });
    expect((await get(s.url, path)).body.equals(large)).toBe(true);
    expect(await hashedOut()).toBe(large.length);
    expect((await get(s.url, path)).body.equals(large)).toBe(true);
    expect(await hashedOut()).toBe(large.length);
    // its file changed (same bytes, new inode facts): hashed when opened, then trusted again
    chmodSync(blobPath(dir, digestOf(large).hash), 0o444);
    expect((await get(s.url, path)).body.equals(large)).toBe(true);
    corruptInPlace(blobPath(dir, digestOf(large).hash));
    expect((await get(s.url, path)).status).toBe(404);
    await s.stop();
  });

  it("a blob this process trusts, written to while it is sent, is cut short, then dropped on its next read", async () => {
    const s = await startTestServer({ maxSize: 2 ** 30 });
    const blob = randomBytes(64 << 20);
    const d = digestOf(blob);
    const file = blobPath(s.dir, d.hash);
    await put(s.url, `/cas/${d.hash}`, blob);
    // the client stops reading after its first bytes, so the server waits with the tail unread
    const outcome = await new Promise<string>((resolve) => {
      const req = request(`${s.url}/cas/${d.hash}`, (res) => {
        let n = 0;
        res.once("data", (chunk: Buffer) => {
          n += chunk.length;
          res.pause();
          const fd = openSync(file, "r+");
          writeSync(fd, Buffer.from("EVIL"), 0, 4, blob.length - 4);
          closeSync(fd);
          res.on("data", (c: Buffer) => (n += c.length));
          res.resume();
        });
        res.on("end", () => resolve(res.complete ? `complete, ${n} bytes` : `cut short, ${n} bytes`));
        res.on("error", () => resolve(`cut short, ${n} bytes`));
      });
      req.on("error", () => resolve("cut short"));
      req.end();
    });
    expect(outcome).toMatch(/^cut short/);
    expect((await get(s.url, `/cas/${d.hash}`)).status).toBe(404);
    await s.stop();
  });

  it("a file written to while it is re-hashed on opening is not trusted at its new facts", async () => {
    const s = await startTestServer({ maxSize: 2 ** 30 });
    const blob = randomBytes(256 << 20);
    const d = digestOf(blob);
    const file = blobPath(s.dir, d.hash);
    await put(s.url, `/cas/${d.hash}`, blob);
    // facts moved: the next read re-hashes the whole file before answering
    chmodSync(file, 0o444);
    const first = get(s.url, `/cas/${d.hash}`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 40));
    // lands on bytes the re-hash has already read
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from("EVIL"), 0, 4, 0);
    closeSync(fd);
    const answers = [await first, await get(s.url, `/cas/${d.hash}`)];
    await s.stop();
    for (const r of answers)
      if (!(r instanceof Error) && r.status === 200 && r.body.length === blob.length) expect(r.body.equals(blob)).toBe(true);
  });

  it("downloads of a large blob cut short by their clients leave the server serving, with no internal error", async () => {
    const s = await startTestServer();
    const blob = randomBytes(16 << 20);
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob);
    const abortAfterFirstBytes = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(`${s.url}/cas/${d.hash}`, (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.on("error", (e) => (req.destroyed ? resolve() : reject(e)));
        req.end();
      });
    await Promise.all(Array.from({ length: 20 }, abortAfterFirstBytes));
    await new Promise((r) => setTimeout(r, 100));
    expect((await get(s.url, `/cas/${d.hash}`)).body.equals(blob)).toBe(true);
    expect(s.messages.filter((m) => /internal error|EBADF/.test(m))).toEqual([]);
    await s.stop();
  });

  it("a client hanging up in the middle of pipelined downloads leaves no request behind: the server stops at once", async () => {
    const s = await startTestServer();
    const blob = randomBytes(16 << 20);
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob);
    const { port } = new URL(s.url);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          const get1 = `GET /cas/${d.hash} HTTP/1.1\r\nHost: x\r\n\r\n`;
          socket.write(get1 + get1);
        });
        socket.once("data", () => {
          socket.destroy();
          resolve();
        });
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await s.stop();
    // a handler waiting forever for a socket that will never take its bytes kept stop() waiting
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("an AC entry changed on disk is dropped too", async () => {
    const s = await startTestServer();
    const blob = Buffer.from("output");
    const d = digestOf(blob);
    await put(s.url, `/cas/${d.hash}`, blob);
    const key = "4a".repeat(32);
    await put(s.url, `/ac/${key}`, hbEntry(key, "", [{ path: "hb-out/o", ...d }]));
    corruptInPlace(blobPath(s.dir, key, "", "ac"));
    expect((await get(s.url, `/ac/${key}`)).status).toBe(404);
    await s.stop();
  });
});

describe("LRU eviction under --max-size", () => {
  it("keeps the most recently used blobs", async () => {
    const s = await startTestServer({ maxSize: 10_000 });
    const [a, b, c] = [randomBytes(4000), randomBytes(4000), randomBytes(4000)];
    await put(s.url, `/cas/${digestOf(a).hash}`, a);
    await put(s.url, `/cas/${digestOf(b).hash}`, b);
    expect((await get(s.url, `/cas/${digestOf(a).hash}`)).status).toBe(200);
    await put(s.url, `/cas/${digestOf(c).hash}`, c);
    expect((await get(s.url, `/cas/${digestOf(a).hash}`)).status).toBe(200);
    expect((await get(s.url, `/cas/${digestOf(b).hash}`)).status).toBe(404);
    expect((await get(s.url, `/cas/${digestOf(c).hash}`)).status).toBe(200);
    const text = (await get(s.url, "/metrics")).body.toString();
    expect(metric(text, "hb_cache_evictions_total")).toBe(1);
    expect(metric(text, "hb_cache_size_bytes")).toBe(8000);
    expect(JSON.parse((await get(s.url, "/status")).body.toString())).toMatchObject({ totalBytes: 8000, casBlobs: 2, maxSize: 10_000 });
    await s.stop();
  });

  it("refuses a blob larger than the whole cache (413)", async () => {
    const s = await startTestServer({ maxSize: 10_000 });
    const big = randomBytes(10_001);
    expect((await put(s.url, `/cas/${digestOf(big).hash}`, big)).status).toBe(413);
    await s.stop();
  });

  it("drops an AC entry whose blobs were evicted, so it is a miss rather than a dangling hit", async () => {
    const s = await startTestServer({ maxSize: 10_000 });
    const out = randomBytes(4000);
    const d = digestOf(out);
    await put(s.url, `/cas/${d.hash}`, out);
    const key = "5a".repeat(32);
    expect((await put(s.url, `/ac/${key}`, encodeActionResult({ files: [{ path: "o", digest: d }] }))).status).toBe(200);
    expect((await get(s.url, `/ac/${key}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const filler = randomBytes(4000);
      await put(s.url, `/cas/${digestOf(filler).hash}`, filler);
    }
    expect((await get(s.url, `/cas/${d.hash}`)).status).toBe(404);
    expect((await get(s.url, `/ac/${key}`)).status).toBe(404);
    // dropped, so a new result for the action can be stored
    await put(s.url, `/cas/${d.hash}`, out);
    expect((await put(s.url, `/ac/${key}`, encodeActionResult({ files: [{ path: "o", digest: d }], exitCode: 0, stdout: d }))).status).toBe(
      200,
    );
    await s.stop();
  });
});
