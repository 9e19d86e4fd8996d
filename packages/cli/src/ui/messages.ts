import type { HbErrorData, SourceLocation, Warning } from "@hb/core/engine";

// The one place hb's failures and warnings become text: core hands them over as data.

export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  return s;
}

function indent(text: string): string {
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => `  | ${l}`)
    .join("\n");
}

/** What a failure's facts add below its one-line message: the command, and what it printed. */
export function failureDetails(e: HbErrorData): string[] {
  const f = e.facts;
  if (!f) return [];
  const lines: string[] = [];
  if ("command" in f) lines.push(`  command: ${f.command}`);
  // an action's output, whether it failed on its own or on a full disk
  if ((e.code === "ACTION_FAILED" || e.code === "DISK_FULL") && "stderrTail" in f) {
    const stderr = f.stderrTail ?? "";
    const stdout = f.stdoutTail ?? "";
    if (stderr.trim()) lines.push(`stderr:\n${indent(stderr)}`);
    if (stdout.trim()) lines.push(`stdout:\n${indent(stdout)}`);
    if (!stderr.trim() && !stdout.trim()) lines.push("  (no output)");
  }
  return lines;
}

/** `ERROR: file:line:col: message`, its facts, then the hint, as compilers print. */
export function errorText(e: HbErrorData): string {
  const where = e.location ? `${formatLocation(e.location)}: ` : "";
  let s = [`ERROR: ${where}${e.message}`, ...failureDetails(e)].join("\n");
  if (e.hint) s += `\n  hint: ${e.hint}`;
  return s;
}

function named(paths: readonly string[]): string {
  return paths.length > 3 ? `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more` : paths.join(", ");
}

/** A warning's text, without the `WARNING: ` prefix. */
export function warningText(w: Warning): string {
  switch (w.code) {
    case "SOURCE_CHANGED":
      return `${w.paths.join(", ")} changed while ${w.label} was running: its result is not cached; the next build keys it by the file as it is then`;
    case "TOOLCHAIN_CHANGED":
      return `${w.path} changed while the build ran: the results of ${w.labels.join(", ")} are not cached${w.uploaded ? " here (an upload to the remote cache may have gone out already)" : ""}; the next build keys them by it as it is then`;
    case "FUTURE_MTIME":
      return `${named(w.paths)}: modified in the future (a wrong clock, or an archive's dates): hb re-reads them on every build, and none is a no-op, until that time; touch them to fix it`;
    case "PINNED_ON_FIRST_FETCH":
      return `pinned ${w.count} npm tarball(s) that the lockfile gives no integrity by the sha512 of this first fetch, into ${w.file}: review it and commit it with the lockfile; a later fetch of other bytes fails`;
    case "STALE_OUTPUT_KEPT":
      return w.reason;
    case "REMOTE_CACHE":
    case "REMOTE_EXECUTION":
    case "BACKGROUND":
      return w.message;
  }
}
