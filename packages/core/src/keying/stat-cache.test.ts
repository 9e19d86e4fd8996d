import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestOfBytes } from "../base/digest";
import { openDatabase } from "../base/database";
import { RACY_MARGIN_MS } from "../base/racy";
import { StatCache } from "./stat-cache";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-stat-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("StatCache", () => {
  it("remembers what a build saw first; a file that changed between two reads marks the build", () => {
    const f = join(dir, "twice.txt");
    writeFileSync(f, "one");
    const db = openDatabase(join(dir, "t.db"));
    const c = new StatCache(db);
    const first = c.digest(f).stats;
    expect(c.digest(f).hashed).toBe(true);
    expect(c.changedDuringBuild).toBe(false);
    writeFileSync(f, "three");
    expect(c.digest(f).digest).toEqual(digestOfBytes("three"));
    expect(c.changedDuringBuild).toBe(true);
    expect(c.seen.get(f)).toBe(first);
    db.close();
  });

  it("hashes a file once, then trusts its unchanged stat across processes", () => {
    const f = join(dir, "old.txt");
    writeFileSync(f, "content");
    const past = (Date.now() - 10 * RACY_MARGIN_MS) / 1000;
    utimesSync(f, past, past);
    const db = openDatabase(join(dir, "a.db"));
    const c1 = new StatCache(db);
    expect(c1.digest(f).digest).toEqual(digestOfBytes("content"));
    expect(c1.hashedFiles).toBe(1);
    c1.flush();
    const c2 = new StatCache(db);
    expect(c2.digest(f).hashed).toBe(false);
    expect(c2.hashedFiles).toBe(0);
    db.close();
  });

  it("never misses a same-size edit that keeps the mtime (racy clean)", () => {
    const f = join(dir, "racy.txt");
    writeFileSync(f, "aaaa");
    const db = openDatabase(join(dir, "b.db"));
    const c = new StatCache(db);
    expect(c.digest(f).digest).toEqual(digestOfBytes("aaaa"));
    const before = statSync(f);
    writeFileSync(f, "bbbb");
    // make the edit invisible to (size, mtime): what a fast edit in the same timestamp tick looks like
    utimesSync(f, before.atime, before.mtime);
    expect(c.digest(f).digest).toEqual(digestOfBytes("bbbb"));
    db.close();
  });

  it("notices an edit that only moves ctime and inode facts", () => {
    const f = join(dir, "edit.txt");
    writeFileSync(f, "one");
    const past = (Date.now() - 10 * RACY_MARGIN_MS) / 1000;
    utimesSync(f, past, past);
    const db = openDatabase(join(dir, "c.db"));
    const c = new StatCache(db);
    c.digest(f);
    const st = statSync(f);
    writeFileSync(f, "two");
    utimesSync(f, st.atime, st.mtime);
    expect(c.digest(f).digest).toEqual(digestOfBytes("two"));
    db.close();
  });
});
