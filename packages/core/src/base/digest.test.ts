import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { digestOfBytes, digestOfFile } from "./digest";

const dir = mkdtempSync(join(tmpdir(), "hb-digest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("digestOfFile", () => {
  // around the 1 MiB read size: empty, short, one chunk less and more, several chunks
  it.each([0, 1, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7])("hashes %i bytes as digestOfBytes does", (size) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4093) bytes[i] = (i * 31) & 0xff;
    const file = join(dir, `f${size}`);
    writeFileSync(file, bytes);
    expect(digestOfFile(file)).toEqual(digestOfBytes(bytes));
  });
});
