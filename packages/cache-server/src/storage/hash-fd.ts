import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** sha256 and length of an open file from its start, streamed (the file may be gigabytes). */
export async function hashOpenFile(path: string, fd: number): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { fd, autoClose: false, start: 0, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
