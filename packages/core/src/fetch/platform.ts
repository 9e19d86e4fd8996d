/** What npm matches a package's `os`, `cpu` and `libc` against. */
export interface NpmPlatform {
  os: string;
  cpu: string;
  /** "glibc" or "musl" on Linux, "" elsewhere */
  libc: string;
}

let host: NpmPlatform | undefined;

/** This machine, as npm sees it (process.platform, process.arch, the C library node runs on). */
export function hostPlatform(): NpmPlatform {
  if (host) return host;
  let libc = "";
  if (process.platform === "linux") {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libc = header?.glibcVersionRuntime ? "glibc" : "musl";
  }
  return (host = { os: process.platform, cpu: process.arch, libc });
}

/** npm's check of one field (npm-install-checks): `!x` excludes x; any positive entry must match. */
function allows(value: string, list: readonly string[] | string | undefined): boolean {
  if (list === undefined) return true;
  const entries = typeof list === "string" ? [list] : list;
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "any")) return true;
  let negated = 0;
  let match = false;
  for (const e of entries) {
    if (e.startsWith("!")) {
      negated++;
      if (e.slice(1) === value) return false;
    } else if (e === value) match = true;
  }
  return match || negated === entries.length;
}

/** Whether a package declaring these fields installs on `p`; when not, what does not match. */
export function platformMismatch(
  p: NpmPlatform,
  fields: { os?: readonly string[] | string; cpu?: readonly string[] | string; libc?: readonly string[] | string },
): string | undefined {
  if (!allows(p.os, fields.os)) return `os ${JSON.stringify(fields.os)}`;
  if (!allows(p.cpu, fields.cpu)) return `cpu ${JSON.stringify(fields.cpu)}`;
  if (p.os === "linux" && !allows(p.libc, fields.libc)) return `libc ${JSON.stringify(fields.libc)}`;
  return undefined;
}
