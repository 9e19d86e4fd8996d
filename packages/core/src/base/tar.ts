// Enough of tar to read what npm publishes and what tar/GNU tar write: ustar headers, GNU long
// names, pax paths. One reader for hb verify's archive diffs and npm_deps' extraction.

export interface TarEntry {
  name: string;
  /** "0" file, "5" directory, "2" symlink, "1" hardlink, ... */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  /** link target for "1" and "2" */
  link: string;
  data: Buffer;
}

const str = (b: Buffer, start: number, len: number) => {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return (nul < 0 ? s : s.subarray(0, nul)).toString("utf8");
};
const octal = (b: Buffer, start: number, len: number) => parseInt(str(b, start, len).trim() || "0", 8);

export function isTar(b: Buffer): boolean {
  return b.length >= 512 && b.subarray(257, 262).toString("latin1") === "ustar";
}

export function readTar(b: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  let paxPath: string | undefined;
  for (let off = 0; off + 512 <= b.length;) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const data = b.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = str(data, 0, data.length);
      continue;
    }
    if (type === "x" || type === "g") {
      if (type === "x") paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1];
      continue;
    }
    const prefix = str(h, 345, 155);
    const name = longName ?? paxPath ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    longName = paxPath = undefined;
    entries.push({
      name,
      type: type === "\0" ? "0" : type,
      mode: octal(h, 100, 8),
      uid: octal(h, 108, 8),
      gid: octal(h, 116, 8),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      mtime: octal(h, 136, 12),
      size,
      link: str(h, 157, 100),
      data,
    });
  }
  return entries;
}
