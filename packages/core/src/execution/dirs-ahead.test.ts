import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirsAhead } from "./dirs-ahead";

const root = mkdtempSync(join(tmpdir(), "hb-dirs-ahead-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("DirsAhead", () => {
  it("makes directories on its thread and says which it made: not one that was there, not one with a file in the way", async () => {
    mkdirSync(join(root, "there"));
    writeFileSync(join(root, "file"), "in the way\n");
    const fresh = Array.from({ length: 20 }, (_, i) => join(root, `p${i}`, "dist"));
    const dirs = [join(root, "there"), join(root, "file", "dist"), ...fresh];
    const ahead = DirsAhead.start(dirs)!;
    expect(ahead).toBeDefined();
    for (let waited = 0; !ahead.made(fresh.at(-1)!) && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    for (const d of fresh) {
      expect(ahead.made(d)).toBe(true);
      expect(statSync(d).isDirectory()).toBe(true);
    }
    expect(ahead.made(join(root, "there"))).toBe(false);
    expect(ahead.made(join(root, "file", "dist"))).toBe(false);
    expect(ahead.made(join(root, "never asked"))).toBe(false);
    await ahead.stop();
    expect(existsSync(join(root, "file", "dist"))).toBe(false);
  });
});
