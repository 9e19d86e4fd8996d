import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** A digest: sha256 hex of the content plus its size, as Bazel's Digest message. */
export interface Digest {
  readonly hash: string;
  readonly size: number;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function digestOfBytes(data: string | Uint8Array): Digest {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  return { hash: sha256Hex(bytes), size: bytes.byteLength };
}

const CHUNK = 1 << 20;
let chunkBuffer: Buffer | undefined;

/**
 * Hashes a file synchronously (the hot path: many small files, where sync calls win), reading in
 * 1 MiB chunks so a large file never sits in memory whole.
 */
export function digestOfFile(path: string): Digest {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const hash = createHash("sha256");
    chunkBuffer ??= Buffer.allocUnsafe(CHUNK);
    let total = 0;
    for (;;) {
      const n = readSync(fd, chunkBuffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(n === CHUNK ? chunkBuffer : chunkBuffer.subarray(0, n));
      total += n;
      // a short read ending where fstat said the file ends is its end: no read just to see 0
      if (n < CHUNK && total === size) break;
    }
    // The file grew or shrank while being read: the size we report is the bytes we hashed.
    return { hash: hash.digest("hex"), size: total === size ? size : total };
  } finally {
    closeSync(fd);
  }
}

export function formatDigest(d: Digest): string {
  return `${d.hash}/${d.size}`;
}

export function parseDigest(s: string): Digest {
  const slash = s.indexOf("/");
  const hash = s.slice(0, slash);
  const size = Number(s.slice(slash + 1));
  if (slash < 0 || !SHA256_HEX.test(hash) || !Number.isSafeInteger(size) || size < 0) {
    throw new Error(`malformed digest '${s}'`);
  }
  return { hash, size };
}

export function sameDigest(a: Digest, b: Digest): boolean {
  return a.hash === b.hash && a.size === b.size;
}
