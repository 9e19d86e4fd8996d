// A protobuf encoder for tests: builds ActionResults the way Bazel's generated code does.
import { createHash } from "node:crypto";

export function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

export function lenField(field: number, bytes: Uint8Array | string): Buffer {
  const b = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes);
  return Buffer.concat([varint((BigInt(field) << 3n) | 2n), varint(b.length), b]);
}

export function varintField(field: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(BigInt(field) << 3n), varint(value)]);
}

export interface TestDigest {
  hash: string;
  size: number;
}

export function digestOf(content: string | Buffer): TestDigest {
  const b = typeof content === "string" ? Buffer.from(content) : content;
  return { hash: createHash("sha256").update(b).digest("hex"), size: b.length };
}

export function encodeDigest(d: TestDigest): Buffer {
  return Buffer.concat([lenField(1, d.hash), d.size > 0 ? varintField(2, d.size) : Buffer.alloc(0)]);
}

export interface TestActionResult {
  files?: { path: string; digest: TestDigest; executable?: boolean }[];
  dirs?: { path: string; tree: TestDigest }[];
  exitCode?: number;
  stdout?: TestDigest;
  stderr?: TestDigest;
  metadataWorker?: string;
}

export function encodeActionResult(r: TestActionResult): Buffer {
  const parts: Buffer[] = [];
  for (const f of r.files ?? []) {
    parts.push(
      lenField(
        2,
        Buffer.concat([lenField(1, f.path), lenField(2, encodeDigest(f.digest)), f.executable ? varintField(4, 1) : Buffer.alloc(0)]),
      ),
    );
  }
  for (const d of r.dirs ?? []) parts.push(lenField(3, Buffer.concat([lenField(1, d.path), lenField(3, encodeDigest(d.tree))])));
  if (r.exitCode) parts.push(varintField(4, r.exitCode));
  if (r.stdout) parts.push(lenField(6, encodeDigest(r.stdout)));
  if (r.stderr) parts.push(lenField(8, encodeDigest(r.stderr)));
  if (r.metadataWorker) parts.push(lenField(9, lenField(1, r.metadataWorker)));
  return Buffer.concat(parts);
}
