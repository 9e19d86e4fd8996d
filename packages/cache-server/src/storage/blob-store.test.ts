import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobStore } from "./blob-store";
import type { EntryKey } from "./entry";

let dir: string;
let stores: BlobStore[];
let events: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-store-"));
  stores = [];
  events = [];
});
afterEach(() => {
  for (const s of stores) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(maxSize = 1 << 20): BlobStore {
  const s = BlobStore.open({
    dir,
    maxSize,
    events: {
      evicted: (count, bytes) => events.push(`evicted ${count} ${bytes}`),
      corrupt: (key) => events.push(`corrupt ${key.hash.slice(0, 8)}`),
      log: (m) => events.push(m),
    },
  });
  stores.push(s);
  return s;
}

function closeAll(): void {
  for (const s of stores) s.close();
  stores = [];
}

function cas(content: string, instance = ""): { key: EntryKey; sha256: string; size: number } {
  const sha256 = createHash("sha256").update(content).digest("hex");
  return { key: { instance, kind: "cas", hash: sha256 }, sha256, size: Buffer.byteLength(content) };
}

function put(store: BlobStore, content: string, instance = ""): EntryKey {
  const { key, sha256, size } = cas(content, instance);
  const temp = store.tempPath();
  writeFileSync(temp, content);
  store.commit(key, temp, sha256, size);
  return key;
}

describe("BlobStore", () => {
  it("stores entries as files renamed out of tmp/ and indexes them", async () => {
    const store = open();
    const key = put(store, "hello");
    expect(readdirSync(store.layout.tmpDir)).toEqual([]);
    expect(store.pathOf(key)).toBe(join(dir, "blobs", "@", "cas", key.hash.slice(0, 2), key.hash));
    const opened = await store.open(key);
    expect(opened?.row.size).toBe(5);
    closeSync(opened!.fd);
    expect(store.stats()).toEqual({ totalBytes: 5, maxSize: 1 << 20, casEntries: 1, acEntries: 0 });
  });

  it("keeps instances apart", async () => {
    const store = open();
    put(store, "shared", "a");
    expect(store.lookup(cas("shared", "a").key)).toBeDefined();
    expect(store.lookup(cas("shared", "b").key)).toBeUndefined();
    expect(store.lookup(cas("shared").key)).toBeUndefined();
  });

  it("evicts the least recently used entries to stay under the limit", () => {
    const store = open(10);
    const [a, b, c] = ["aaa", "bbb", "ccc"].map((s) => put(store, s));
    store.touch(a!);
    put(store, "ddd");
    expect(store.lookup(a!)).toBeDefined();
    expect(store.lookup(b!)).toBeUndefined();
    expect(existsSync(store.pathOf(b!))).toBe(false);
    expect(store.lookup(c!)).toBeDefined();
    expect(store.stats().totalBytes).toBe(9);
    expect(events).toContain("evicted 1 3");
  });

  it("keeps last-access order across restarts", () => {
    let store = open(10);
    const [a, b] = ["aaa", "bbb"].map((s) => put(store, s));
    store.touch(a!);
    closeAll();
    store = open(10);
    put(store, "ccc");
    put(store, "ddd");
    expect(store.lookup(a!)).toBeDefined();
    expect(store.lookup(b!)).toBeUndefined();
  });

  it("re-hashes a file that changed on disk: keeps it when only its mtime moved, drops it when its bytes changed", async () => {
    const store = open();
    const touched = put(store, "touched");
    const edited = put(store, "edited!");
    utimesSync(store.pathOf(touched), new Date(), new Date(2000, 1, 1));
    const ok = await store.open(touched);
    expect(ok).toBeDefined();
    closeSync(ok!.fd);
    const path = store.pathOf(edited);
    rmSync(path);
    writeFileSync(path, "EDITED!");
    expect(await store.open(edited)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    expect(store.lookup(edited)).toBeUndefined();
    expect(events).toContain(`corrupt ${edited.hash.slice(0, 8)}`);
  });

  it("forgets an entry whose file vanished", async () => {
    const store = open();
    const key = put(store, "gone");
    rmSync(store.pathOf(key));
    expect(await store.open(key)).toBeUndefined();
    expect(store.stats().casEntries).toBe(0);
  });

  it("after an unclean shutdown, drops rows without files and files without rows, and empties tmp/", () => {
    let store = open();
    const kept = put(store, "kept");
    const lost = put(store, "lost");
    closeAll();
    rmSync(join(dir, "clean-shutdown"));
    rmSync(join(dir, "blobs", "@", "cas", lost.hash.slice(0, 2), lost.hash));
    const orphan = cas("orphan").key;
    const orphanPath = join(dir, "blobs", "@", "cas", orphan.hash.slice(0, 2), orphan.hash);
    mkdirSync(dirname(orphanPath), { recursive: true });
    writeFileSync(orphanPath, "orphan");
    writeFileSync(join(dir, "tmp", "123-1"), "half an upload");
    store = open();
    expect(store.lookup(kept)).toBeDefined();
    expect(store.lookup(lost)).toBeUndefined();
    expect(existsSync(orphanPath)).toBe(false);
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    expect(store.stats()).toMatchObject({ casEntries: 1, totalBytes: 4 });
    expect(events.some((e) => e.includes("unclean shutdown"))).toBe(true);
  });

  it("does not reconcile after a clean shutdown", () => {
    open();
    closeAll();
    expect(statSync(join(dir, "clean-shutdown")).isFile()).toBe(true);
    open();
    expect(existsSync(join(dir, "clean-shutdown"))).toBe(false);
  });

  it("refuses a second store on the same directory", () => {
    open();
    expect(() => open()).toThrow(expect.objectContaining({ code: "CACHE_SERVER_FAILED" }));
  });
});

describe("the store's directory", () => {
  const openAt = (at: string) => () =>
    BlobStore.open({ dir: at, maxSize: 1 << 20, events: { evicted: () => undefined, corrupt: () => undefined, log: () => undefined } });

  it("is created when missing, and a place that cannot be one is refused in words, at once", () => {
    stores.push(openAt(join(dir, "a/b/cache"))());
    expect(statSync(join(dir, "a/b/cache")).isDirectory()).toBe(true);
    writeFileSync(join(dir, "file"), "x");
    expect(openAt(join(dir, "file/cache"))).toThrow(/cannot keep the cache in .*file\/cache: .*file is not a directory/);
    expect(openAt(join(dir, "file"))).toThrow(/is not a directory/);
    // Node's recursive mkdir never returns for a missing path in /proc
    expect(openAt("/proc/hb-nope/cache")).toThrow(/\/proc is not on a disk/);
  });
});
