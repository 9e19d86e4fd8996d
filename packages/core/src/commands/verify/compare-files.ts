import { closeSync, openSync, readSync } from "node:fs";

const CHUNK = 1 << 16;

/** Offset of the first byte where two files differ (streaming), or undefined when they are equal. */
export function firstDifferingByte(pathA: string, pathB: string): number | undefined {
  const fa = openSync(pathA, "r");
  const fb = openSync(pathB, "r");
  const a = Buffer.allocUnsafe(CHUNK);
  const b = Buffer.allocUnsafe(CHUNK);
  try {
    for (let offset = 0; ;) {
      const na = readSync(fa, a, 0, CHUNK, offset);
      const nb = readSync(fb, b, 0, CHUNK, offset);
      const n = Math.min(na, nb);
      for (let i = 0; i < n; i++) if (a[i] !== b[i]) return offset + i;
      if (na !== nb) return offset + n;
      if (na === 0) return undefined;
      offset += n;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** Text if the first 8 KiB hold no NUL and decode as UTF-8. */
export function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.length === bytes.length ? head : bytes.subarray(0, lastCharBoundary(head)));
    return true;
  } catch {
    return false;
  }
}

function lastCharBoundary(b: Uint8Array): number {
  let i = b.length;
  while (i > 0 && (b[i - 1]! & 0xc0) === 0x80) i--;
  return i > 0 && b[i - 1]! >= 0xc0 ? i - 1 : b.length;
}

/**
 * A short diff: the block of lines between the common head and the common tail, with a little
 * context, capped. Enough to see what differs; diffoscope is there for the rest.
 */
export function shortTextDiff(a: string, b: string, maxLines = 12, context = 2): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  let head = 0;
  while (head < la.length && head < lb.length && la[head] === lb[head]) head++;
  let tail = 0;
  while (tail < la.length - head && tail < lb.length - head && la[la.length - 1 - tail] === lb[lb.length - 1 - tail]) tail++;
  const from = Math.max(0, head - context);
  const out: string[] = [`@@ line ${head + 1} @@`];
  for (let i = from; i < head; i++) out.push(`  ${la[i]}`);
  const removed = la.slice(head, la.length - tail);
  const added = lb.slice(head, lb.length - tail);
  const cap = (lines: string[], sign: string) => {
    for (const l of lines.slice(0, maxLines)) out.push(`${sign} ${l}`);
    if (lines.length > maxLines) out.push(`${sign} ... (${lines.length - maxLines} more lines)`);
  };
  cap(removed, "-");
  cap(added, "+");
  for (let i = la.length - tail; i < Math.min(la.length, la.length - tail + context); i++) out.push(`  ${la[i]}`);
  return out.join("\n");
}
