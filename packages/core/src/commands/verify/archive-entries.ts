import { gunzipSync } from "node:zlib";
import { isTar, readTar } from "../../base/tar";
import { sha256Hex } from "../../base/digest";

// Enough of tar, gzip and zip to say which entries and which fields of two archives differ: the usual reasons an archive is not reproducible are entry
// order, mtimes, owners and modes, not content.

export interface ArchiveEntry {
  name: string;
  fields: Record<string, string | number>;
}

export interface ArchiveListing {
  format: "tar" | "tar.gz" | "zip";
  /** header fields of the container itself (gzip mtime, OS, name) */
  header: Record<string, string | number>;
  entries: ArchiveEntry[];
}

function listTar(b: Buffer): ArchiveEntry[] {
  return readTar(b).map((e) => ({
    name: e.name,
    fields: {
      type: e.type,
      mode: e.mode.toString(8),
      uid: e.uid,
      gid: e.gid,
      uname: e.uname,
      gname: e.gname,
      mtime: e.mtime,
      size: e.size,
      sha256: sha256Hex(e.data),
      ...(e.type === "2" || e.type === "1" ? { link: e.link } : {}),
    },
  }));
}

function listZip(b: Buffer): ArchiveEntry[] {
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return [];
  const count = b.readUInt16LE(eocd + 10);
  const entries: ArchiveEntry[] = [];
  for (let off = b.readUInt32LE(eocd + 16), n = 0; n < count && off + 46 <= b.length; n++) {
    if (b.readUInt32LE(off) !== 0x02014b50) break;
    const nameLen = b.readUInt16LE(off + 28);
    const extraLen = b.readUInt16LE(off + 30);
    const commentLen = b.readUInt16LE(off + 32);
    entries.push({
      name: b.subarray(off + 46, off + 46 + nameLen).toString("utf8"),
      fields: {
        method: b.readUInt16LE(off + 10),
        dosTime: b.readUInt16LE(off + 12),
        dosDate: b.readUInt16LE(off + 14),
        crc32: b.readUInt32LE(off + 16).toString(16),
        size: b.readUInt32LE(off + 24),
        compressedSize: b.readUInt32LE(off + 20),
        externalAttributes: b.readUInt32LE(off + 38).toString(16),
        extra: b.subarray(off + 46 + nameLen, off + 46 + nameLen + extraLen).toString("hex"),
      },
    });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The most a .tar.gz is unpacked to, in memory, to list its entries. */
const MAX_UNPACKED = 64 << 20;

/** The entries of a tar, tar.gz or zip archive, or undefined when the bytes are none of these (or unpack to more than 64 MiB). */
export function listArchive(bytes: Buffer): ArchiveListing | undefined {
  try {
    if (bytes.length > 18 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      const flags = bytes[3]!;
      const header = { mtime: bytes.readUInt32LE(4), os: bytes[9]!, hasName: flags & 0x08 ? "yes" : "no" };
      // an archive from an action nobody reviewed may be a gzip bomb: past this it is compared by its bytes alone
      const inner = gunzipSync(bytes, { maxOutputLength: MAX_UNPACKED });
      return isTar(inner) ? { format: "tar.gz", header, entries: listTar(inner) } : undefined;
    }
    if (bytes.length > 4 && bytes.readUInt32LE(0) === 0x04034b50) return { format: "zip", header: {}, entries: listZip(bytes) };
    if (isTar(bytes)) return { format: "tar", header: {}, entries: listTar(bytes) };
  } catch {
    return undefined;
  }
  return undefined;
}

/** What differs between two listings, one line per fact. */
export function diffArchives(a: ArchiveListing, b: ArchiveListing, max = 20): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(a.header)) if (b.header[k] !== v) out.push(`${a.format} header ${k}: ${v} vs ${b.header[k]}`);
  const namesA = a.entries.map((e) => e.name);
  const namesB = b.entries.map((e) => e.name);
  if (namesA.join("\0") !== namesB.join("\0")) {
    const setB = new Set(namesB);
    const setA = new Set(namesA);
    const only = (xs: string[], other: Set<string>) => xs.filter((x) => !other.has(x));
    if (only(namesA, setB).length || only(namesB, setA).length) {
      out.push(`entries only in run 1: ${only(namesA, setB).join(", ") || "-"}; only in run 2: ${only(namesB, setA).join(", ") || "-"}`);
    } else out.push(`same entries in another order: ${namesA.slice(0, 5).join(", ")}... vs ${namesB.slice(0, 5).join(", ")}...`);
  }
  const byName = new Map(b.entries.map((e) => [e.name, e]));
  for (const e of a.entries) {
    const other = byName.get(e.name);
    if (!other) continue;
    for (const [k, v] of Object.entries(e.fields)) {
      if (other.fields[k] !== v) out.push(`entry ${e.name}: ${k} ${v} vs ${other.fields[k]}`);
    }
    if (out.length >= max) break;
  }
  return out.slice(0, max);
}
