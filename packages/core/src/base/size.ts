/**
 * Byte counts as people write them: `10GiB`, `500MB`, `1.5GiB`, `4096`. SI units (kB, MB, GB)
 * are powers of 1000 and IEC units (KiB, MiB, GiB) powers of 1024, as `df -H`/`df -h` mean them.
 */
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** The bytes `text` names, or undefined when it names no size (a bad unit, not a number). */
export function bytesOf(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : undefined;
}

/** For messages: 10737418240 -> "10 GiB", 500000000 -> "476.84 MiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number(value.toFixed(2))} ${units[i]}`;
}
