import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalCas } from "../caching/local-cas";
import { openDatabase, type Database } from "../base/database";
import { DIRS_AHEAD_MIN, Materializer, buildUnderway } from "./materialize";

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
    const st = statSync(abs);
    expect(new Materializer(root, cas, db).recorded([f.path])).toEqual([[f.path, st.ino, 2, st.mtimeMs, st.ctimeMs]]);
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

  it("restores many packages with their directories made ahead on a thread, a file or a stale output in the way included", async () => {
    const n = DIRS_AHEAD_MIN + 16;
    const files = Array.from({ length: n }, (_, i) => output(`hb-out/p${i}/dist/a.js`, `a${i}\n`));
    const first = new Materializer(root, cas, db);
    for (const f of files) expect(first.ensure(f)).toBe(true);
    first.flush();
    rmSync(join(root, "hb-out"), { recursive: true });
    // a file where p7's directory goes; p8's directory kept, with a stale file at its output
    mkdirSync(join(root, "hb-out/p8/dist"), { recursive: true });
    writeFileSync(join(root, "hb-out/p7"), "not a directory\n");
    writeFileSync(join(root, files[8]!.path), "stale\n");
    const m = new Materializer(root, cas, db);
    m.prepareDirs(files.map((f) => f.path));
    for (let waited = 0; !existsSync(join(root, files[n - 1]!.path, "..")) && waited < 5000; waited += 10)
      await new Promise((r) => setTimeout(r, 10));
    // made by the worker, before any output was put in place
    expect(existsSync(join(root, files[n - 1]!.path, ".."))).toBe(true);
    for (const f of files) expect(m.ensure(f)).toBe(true);
    for (const [i, f] of files.entries()) {
      expect(readFileSync(join(root, f.path), "utf8")).toBe(`a${i}\n`);
      expect(statSync(join(root, f.path)).ino).toBe(statSync(cas.get(f)!).ino);
    }
    expect(readdirSync(join(root, "hb-out/p8/dist"))).toEqual(["a.js"]);
  });
});

describe("buildUnderway", () => {
  it("after a build killed while writing, removes what it left in hb-out/ and the CAS's temp directory; a finished build leaves nothing to clear", () => {
    const base = join(dir, "base");
    mkdirSync(join(root, "hb-out/p/q"), { recursive: true });
    writeFileSync(join(root, "hb-out/p/q/out.txt"), "an output");
    mkdirSync(base);
    const first = buildUnderway(base, root, cas.tmpDir);
    first.done();
    // the next one is killed: its temporary link and a half-taken output stay behind
    buildUnderway(base, root, cas.tmpDir);
    writeFileSync(join(root, "hb-out/p/q/.hb-tmp-4242-7"), "half");
    writeFileSync(join(cas.tmpDir, "4242-3"), "half");
    buildUnderway(base, root, cas.tmpDir).done();
    expect(readdirSync(join(root, "hb-out/p/q"))).toEqual(["out.txt"]);
    expect(readdirSync(cas.tmpDir)).toEqual([]);
    // after a build that finished, hb-out/ is not walked at all
    writeFileSync(join(root, "hb-out/p/.hb-tmp-1-1"), "not ours to judge");
    buildUnderway(base, root, cas.tmpDir).done();
    expect(existsSync(join(root, "hb-out/p/.hb-tmp-1-1"))).toBe(true);
  });
});
