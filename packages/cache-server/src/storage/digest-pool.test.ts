import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir } from "../testing/server";
import { DigestPool } from "./digest-pool";

afterEach(removeTempDirs);

describe("DigestPool", () => {
  it("hashes open files on its threads, several at once, each to its own digest", async () => {
    const dir = tempDir();
    const pool = new DigestPool();
    try {
      const blobs = [randomBytes(3 << 20), randomBytes(1), Buffer.alloc(0), randomBytes((1 << 20) + 17)];
      const fds = blobs.map((b, i) => {
        writeFileSync(join(dir, `b${i}`), b);
        return openSync(join(dir, `b${i}`), "r");
      });
      const digests = await Promise.all(blobs.map((b, i) => pool.digestFd(fds[i]!, b.length)));
      fds.forEach((fd) => closeSync(fd));
      expect(digests).toEqual(blobs.map((b) => ({ sha256: createHash("sha256").update(b).digest("hex"), size: b.length })));
    } finally {
      await pool.close();
    }
  });

  it("reports a file shorter than expected by its size, and a bad fd as an error, never hanging", async () => {
    const dir = tempDir();
    const pool = new DigestPool();
    try {
      writeFileSync(join(dir, "short"), "abc");
      const fd = openSync(join(dir, "short"), "r");
      expect(await pool.digestFd(fd, 10)).toEqual({ sha256: createHash("sha256").update("abc").digest("hex"), size: 3 });
      closeSync(fd);
      // a number no open file has (a just-closed one could be reused by another thread)
      await expect(pool.digestFd(1 << 30, 10)).rejects.toThrow(/EBADF|bad file descriptor/i);
    } finally {
      await pool.close();
    }
  });
});
