import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyStamped } from "./stage";

const dir = mkdtempSync(join(tmpdir(), "hb-stage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("copyStamped", () => {
  it.each([
    ["small (through memory)", 1500],
    ["large (copyFileSync)", (1 << 20) + 1],
    ["empty", 0],
  ])("%s: same bytes, the mode and mtime asked for, never over an existing file", (_what, size) => {
    const previous = process.umask(0o022);
    try {
      const source = join(dir, `${size}.src`);
      const bytes = randomBytes(size);
      writeFileSync(source, bytes, { mode: 0o600 });
      const dest = join(dir, `${size}.copy`);
      copyStamped(source, dest, 315532800, 0o555);
      expect(readFileSync(dest).equals(bytes)).toBe(true);
      const st = statSync(dest);
      expect(st.mode & 0o777).toBe(0o555);
      expect(st.mtimeMs).toBe(315532800_000);
      expect(() => copyStamped(source, dest, 315532800, 0o555)).toThrow(/EEXIST/);
    } finally {
      process.umask(previous);
    }
  });
});
