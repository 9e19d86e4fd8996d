// A local cache that does not grow forever (issue 20): cache.maxSize with least-recently-used
// eviction that never evicts what the current build uses, and hb clean --older-than.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../packages/core/src/base/database";
import { hb, makeWorkspace, summary } from "./helpers";

// two outputs of about 590 KB each, of different bytes
const BUILD =
  'import { genrule } from "@hb/core";\n' +
  'genrule({ name: "a", outs: ["a.txt"], cmd: "seq 1 100000 > $@" });\n' +
  'genrule({ name: "b", outs: ["b.txt"], cmd: "seq 2 100001 > $@" });\n';

/** Whether the local CAS holds the blob of an output under hb-out/. */
function cached(ws: string, output: string): boolean {
  const hash = createHash("sha256")
    .update(readFileSync(join(ws, "hb-out", output)))
    .digest("hex");
  return existsSync(join(ws, ".hb/cas", hash.slice(0, 2), hash));
}

describe("the local cache's size", () => {
  it("stays within cache.maxSize: the blobs used least recently go, never the current build's", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": BUILD }, 'export default { cache: { maxSize: "1MiB" } };\n');
    expect((await hb(ws, ["build", "//p:a"])).exitCode).toBe(0);
    expect(cached(ws, "p/a.txt")).toBe(true);
    // together over 1 MiB: a, unused by this build, goes; its output under hb-out/ stays
    expect((await hb(ws, ["build", "//p:b"])).exitCode).toBe(0);
    expect([cached(ws, "p/a.txt"), cached(ws, "p/b.txt")]).toEqual([false, true]);
    expect(readFileSync(join(ws, "hb-out/p/a.txt"), "utf8")).toMatch(/^1\n2\n/);
    // a is no longer a cache hit: it runs again, and b goes in its turn
    const again = await hb(ws, ["build", "//p:a"]);
    expect(again.exitCode, again.output).toBe(0);
    expect(summary(again)).toMatchObject({ executed: 1, cached: 0 });
    expect([cached(ws, "p/a.txt"), cached(ws, "p/b.txt")]).toEqual([true, false]);
    // a build that needs both keeps both, over the limit
    expect((await hb(ws, ["build", "//p:a", "//p:b"])).exitCode).toBe(0);
    expect([cached(ws, "p/a.txt"), cached(ws, "p/b.txt")]).toEqual([true, true]);
  });

  it("refuses a cache.maxSize that is no size", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": BUILD }, 'export default { cache: { maxSize: "lots" } };\n');
    const r = await hb(ws, ["build", "//p:a"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`setting 'cache.maxSize' in hb.config.ts must be a size: bytes, or a string such as "10GiB" or "500MB"`);
  });
});

describe("hb clean --older-than", () => {
  it("removes from the local cache what no build used for that long, and nothing else", async () => {
    const ws = makeWorkspace({ "p/BUILD.ts": BUILD });
    expect((await hb(ws, ["build", "//p:a", "//p:b"])).exitCode).toBe(0);
    const a = createHash("sha256")
      .update(readFileSync(join(ws, "hb-out/p/a.txt")))
      .digest("hex");
    const db = openDatabase(join(ws, ".hb/hb.db"));
    db.prepare("UPDATE blobs SET used_ms = used_ms - ? WHERE hash = ?").run(8 * 86_400_000, a);
    db.close();
    const r = await hb(ws, ["clean", "--older-than", "7d"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/hb: removed 1 cache blob\(s\) unused for 7d \(0\.6 MiB\); 0\.6 MiB kept/);
    expect([cached(ws, "p/a.txt"), cached(ws, "p/b.txt")]).toEqual([false, true]);
    expect(existsSync(join(ws, "hb-out/p/a.txt"))).toBe(true);
    const rebuilt = await hb(ws, ["build", "//p:a", "//p:b"]);
    expect(summary(rebuilt)).toMatchObject({ executed: 1, cached: 1 });

    const bad = await hb(ws, ["clean", "--older-than", "a week"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--older-than takes an age such as 7d, 12h or 30m, not 'a week'");
  });
});
