import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalCas } from "../cas/local-cas";
import { openDatabase, type Database } from "../store/database";
import { Materializer } from "./materialize";

let dir: string;
let root: string;
let db: Database;
let cas: LocalCas;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-mat-"));
  root = join(dir, "ws");
  mkdirSync(root);
  db = openDatabase(join(dir, "hb.db"));
  cas = new LocalCas(join(dir, "cas"), db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const output = (path: string, text: string, executable = false) => {
  const d = cas.putBytes(text, 315532800);
  return { path, hash: d.hash, size: d.size, executable };
};

describe("Materializer", () => {
  it("restores into an empty hb-out/ as hardlinks of the blobs, and remembers them for the next check", () => {
    const m = new Materializer(root, cas, db);
    const f = output("hb-out/p/dist/a.js", "a\n");
    expect(m.ensure(f)).toBe(true);
    const abs = join(root, f.path);
    expect(readFileSync(abs, "utf8")).toBe("a\n");
    expect(statSync(abs).ino).toBe(statSync(cas.get(f)!).ino);
    m.flush();
    expect(new Materializer(root, cas, db).recorded([f.path])).toEqual([[f.path, statSync(abs).ino, 2, statSync(abs).mtimeMs]]);
  });

  it("replaces a file or a directory in the way, and makes a 0555 blob for an executable output", () => {
    const m = new Materializer(root, cas, db);
    const f = output("hb-out/p/a.txt", "new\n");
    mkdirSync(join(root, "hb-out/p"), { recursive: true });
    writeFileSync(join(root, f.path), "stale, written by hand\n");
    expect(m.ensure(f)).toBe(true);
    expect(readFileSync(join(root, f.path), "utf8")).toBe("new\n");

    const g = output("hb-out/p/tool", "#!/bin/sh\n", true);
    mkdirSync(join(root, "hb-out/p/tool/sub"), { recursive: true });
    expect(m.ensure(g)).toBe(true);
    expect(lstatSync(join(root, g.path)).mode & 0o777).toBe(0o555);
  });

  it("keeps a file that is already its blob, leaving no temp name, and follows a change of the executable bit alone", () => {
    const m = new Materializer(root, cas, db);
    const f = output("hb-out/p/run.sh", "echo hi\n");
    expect(m.ensure(f)).toBe(true);
    // touched: its record no longer matches, yet the path already holds the blob
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, f.path), later, later);
    expect(m.ensure(f)).toBe(true);
    expect(readdirSync(join(root, "hb-out/p"))).toEqual(["run.sh"]);
    const x = { ...f, executable: true };
    expect(m.ensure(x)).toBe(true);
    expect(lstatSync(join(root, f.path)).mode & 0o777).toBe(0o555);
    expect(m.ensure(f)).toBe(true);
    expect(lstatSync(join(root, f.path)).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(root, "hb-out/p"))).toEqual(["run.sh"]);
  });

  it("says false, and leaves nothing, when the blob is gone", () => {
    const m = new Materializer(root, cas, db);
    const f = output("hb-out/p/a.txt", "a\n");
    const blob = cas.get(f)!;
    chmodSync(blob, 0o644);
    rmSync(blob);
    expect(m.ensure(f)).toBe(false);
    expect(() => lstatSync(join(root, f.path))).toThrow();
  });
});
