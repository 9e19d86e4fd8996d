import { readFileSync, realpathSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { HbError } from "./errors";

// A full disk is not a bug in hb nor a broken action: it is the machine, and the user needs to
// know which disk. Every ENOSPC (or a quota, or SQLite's SQLITE_FULL) that reaches a failure is
// said as one: the mount point, its type, what is free, and what hb was writing.

const FULL = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);

/** What a program prints when a write fails for want of space (strerror of ENOSPC and EDQUOT). */
const FULL_MESSAGE = /No space left on device|Disk quota exceeded/;

export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && FULL.has(code);
}

/** Whether a program's error output says a write failed for want of space. */
export function saysDiskFull(output: string): boolean {
  return FULL_MESSAGE.test(output);
}

function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

/** The mount point and filesystem type holding `path` (its nearest existing ancestor), from /proc. */
function mountOf(path: string): { mountPoint: string; type: string } | undefined {
  let real = path;
  for (;;) {
    try {
      real = realpathSync(real);
      break;
    } catch {
      if (dirname(real) === real) return undefined;
      real = dirname(real);
    }
  }
  let best: { mountPoint: string; type: string } | undefined;
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      // id parent major:minor root mount-point options [optional...] - type source super-options
      const fields = line.split(" ");
      const dash = fields.indexOf("-");
      if (dash < 0) continue;
      const mountPoint = fields[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      const inside = real === mountPoint || real.startsWith(mountPoint === "/" ? "/" : `${mountPoint}/`);
      if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, type: fields[dash + 1]! };
    }
  } catch {
    return undefined;
  }
  return best;
}

/** "the disk at /mnt/build (ext4, 196.0 KiB free of 6.0 MiB)", as far as it can be told. */
export function describeDisk(path: string): string {
  const mount = mountOf(path);
  let space = "";
  try {
    const s = statfsSync(path.length > 0 ? nearestExisting(path) : "/");
    space = `${formatBytes(s.bavail * s.bsize)} free of ${formatBytes(s.blocks * s.bsize)}`;
  } catch {
    // no figures then: the mount point still names it
  }
  const facts = [mount?.type, space].filter(Boolean).join(", ");
  return `the disk at ${mount?.mountPoint ?? dirname(path)}${facts ? ` (${facts})` : ""}`;
}

function nearestExisting(path: string): string {
  let p = path;
  for (;;) {
    try {
      statfsSync(p);
      return p;
    } catch {
      if (dirname(p) === p) return p;
      p = dirname(p);
    }
  }
}

export const DISK_FULL_HINT =
  "free space on that disk, or give hb an output base on another one (--output-base, HB_OUTPUT_BASE); the next build finishes what this one could not, and uses nothing half-written";

/** The failure for a full disk where hb was writing `path`; `doing` says what for. */
export function diskFullError(path: string, doing: string): HbError {
  const disk = describeDisk(path);
  return HbError.of("DISK_FULL", `${disk} is full: ${doing} (${path})`, { disk, path }, { hint: DISK_FULL_HINT });
}

/** A full-disk failure for an error thrown while hb wrote under `fallbackPath`, or undefined for other errors. */
export function asDiskFull(e: unknown, fallbackPath: string, doing: string): HbError | undefined {
  if (!isDiskFull(e)) return undefined;
  const path = (e as NodeJS.ErrnoException).path;
  return diskFullError(typeof path === "string" ? path : fallbackPath, doing);
}
