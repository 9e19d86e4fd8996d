import { readFileSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";

/** The syscalls the audit watches: opening files (whatever the outcome) and connecting sockets. */
export const AUDIT_SYSCALLS = "trace=open,openat,openat2,creat,connect";

/**
 * strace's command line, writing one trace file per process into `traceDir/trace.<pid>`. `-y`
 * prints every descriptor with its path, the current directory's too (`AT_FDCWD</dir>`), so a
 * relative path is read against the directory the process was in when it opened it (after a
 * `cd`, a `tar -C`), not against where the action started.
 */
export function straceArgv(strace: string, traceDir: string, argv: readonly string[]): string[] {
  return [strace, "-f", "-ff", "-qq", "-y", "-e", AUDIT_SYSCALLS, "-e", "signal=none", "-o", `${traceDir}/trace`, "--", ...argv];
}

export interface TraceAccess {
  kind: "open" | "connect";
  /** for opens: the path as the process named it (relative to `dir` when not absolute); for connects: host:port */
  target: string;
  /** for a relative open: the directory it is relative to, as strace resolved the descriptor */
  dir?: string;
  /** the syscall failed (a hidden path counts too) */
  failed: boolean;
}

const OPEN = /^(?:open|openat|openat2|creat)\((?:(?:AT_FDCWD|\d+)(?:<([^>]*)>)?, )?"((?:[^"\\]|\\.)*)"/;
const INET = /^connect\(\d+(?:<[^>]*>)?, \{sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)/;
const INET6 = /^connect\(\d+(?:<[^>]*>)?, \{sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*inet_pton\(AF_INET6, "([^"]+)"/;

/** Reads every trace file strace wrote. */
export function readTraces(traceDir: string): TraceAccess[] {
  let files: string[];
  try {
    files = readdirSync(traceDir)
      .filter((f) => f.startsWith("trace"))
      .sort();
  } catch {
    return [];
  }
  const out: TraceAccess[] = [];
  for (const f of files) {
    for (const line of readFileSync(join(traceDir, f), "utf8").split("\n")) {
      const failed = / = -1 /.test(line);
      const open = OPEN.exec(line);
      if (open) {
        const access: TraceAccess = { kind: "open", target: JSON.parse(`"${open[2]}"`) as string, failed };
        if (open[1] !== undefined) access.dir = open[1];
        out.push(access);
        continue;
      }
      const inet = INET.exec(line);
      if (inet) {
        out.push({ kind: "connect", target: `${inet[2]}:${inet[1]}`, failed });
        continue;
      }
      const inet6 = INET6.exec(line);
      if (inet6) out.push({ kind: "connect", target: `[${inet6[2]}]:${inet6[1]}`, failed });
    }
  }
  return out;
}

/** Absolute form of a path a process opened: against the directory it was relative to (the execroot if unknown). */
export function absoluteTarget(access: TraceAccess, execroot: string): string {
  const t = access.target;
  return posix.normalize(t.startsWith("/") ? t : `${access.dir ?? execroot}/${t}`);
}
