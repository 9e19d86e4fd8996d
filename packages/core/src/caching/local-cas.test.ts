import {
  appendFileSync,
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestOfBytes } from "../base/digest";
import { openDatabase, type Database } from "../base/database";
import { LocalCas } from "./local-cas";

let dir: string;
let db: Database;
let cas: LocalCas;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-cas-"));
  db = openDatabase(join(dir, "hb.db"));
  cas = new LocalCas(join(dir, "cas"), db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("LocalCas", () => {
  it("stores bytes under their sha256, read-only, with the given mtime", () => {
    const d = cas.putBytes("hello\n", 315532800);
    expect(d).toEqual(digestOfBytes("hello\n"));
    const path = cas.get(d)!;
    expect(path).toBe(join(dir, "cas", d.hash.slice(0, 2), d.hash));
    expect(readFileSync(path, "utf8")).toBe("hello\n");
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o444);
    expect(st.mtimeMs).toBe(315532800 * 1000);
  });

  it("adopts a file by renaming it, and drops a second copy of the same content", () => {
    const a = join(dir, "a");
    writeFileSync(a, "same");
    const d = digestOfBytes("same");
    cas.adopt(a, d, 1);
    expect(existsSync(a)).toBe(false);
    const b = join(dir, "b");
    writeFileSync(b, "same");
    cas.adopt(b, d, 1);
    expect(existsSync(b)).toBe(false);
    expect(readFileSync(cas.get(d)!, "utf8")).toBe("same");
  });

  it("treats a blob written through a hardlink as corrupt: removed, reported, a miss", () => {
    const d = cas.putBytes("original", 1);
    const path = cas.get(d)!;
    chmodSync(path, 0o644);
    appendFileSync(path, "tampered");
    expect(cas.get(d)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    expect(cas.incidents).toHaveLength(1);
    expect(cas.incidents[0]!.kind).toBe("corrupt-blob");
  });

  it("re-hashes a blob whose inode facts changed but whose content did not, and keeps it", () => {
    const d = cas.putBytes("keep me", 1);
    const path = cas.get(d)!;
    chmodSync(path, 0o644);
    writeFileSync(path, "keep me");
    expect(cas.get(d)).toBe(path);
    expect(cas.incidents).toHaveLength(0);
    expect(statSync(path).mode & 0o777).toBe(0o444);
  });

  it("re-hashes a blob whose link was removed (rm -rf hb-out/) without touching it: its ctime stays where the unlink put it", () => {
    const d = cas.putBytes("restored", 1);
    const path = cas.get(d)!;
    linkSync(path, join(dir, "out-link"));
    unlinkSync(join(dir, "out-link"));
    const moved = statSync(path);
    expect(cas.get(d)).toBe(path);
    const after = statSync(path);
    expect(after.ctimeMs).toBe(moved.ctimeMs);
    expect(after.mode & 0o777).toBe(0o444);
    expect(cas.incidents).toHaveLength(0);
  });

  it("treats a directory where a blob was as corrupt: removed, reported, a miss", () => {
    const d = cas.putBytes("blob", 1);
    const path = cas.get(d)!;
    rmSync(path, { force: true });
    mkdirSync(join(path, "sub"), { recursive: true });
    expect(cas.get(d)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    expect(cas.incidents.map((i) => i.kind)).toEqual(["corrupt-blob"]);
  });

  it("answers a miss for an absent blob", () => {
    expect(cas.get(digestOfBytes("never stored"))).toBeUndefined();
  });

  it("makes an executable copy on demand", () => {
    const d = cas.putBytes("#!/bin/sh\n", 1);
    const x = cas.getExecutable(d)!;
    expect(statSync(x).mode & 0o777).toBe(0o555);
    expect(readFileSync(x, "utf8")).toBe("#!/bin/sh\n");
  });
});
