import { renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { HbError, makeWritableDir } from "@hb/core/engine";
import type { Terminal } from "./terminal";

function cannotWrite(path: string, why: string): HbError {
  return new HbError("USAGE", `cannot write the report to ${path}: ${why}`, {
    hint: "give --report a file in a writable directory (it is created if missing)",
  });
}

/**
 * Checks before the work that `--report FILE` can be written: not a directory, in a directory
 * hb can make and write to. Returns the absolute path.
 */
export function checkReportFile(cwd: string, file: string): string {
  const path = resolve(cwd, file);
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // absent: written at the end
  }
  if (isDirectory) throw cannotWrite(path, "it is a directory");
  makeWritableDir(dirname(path), (why) => cannotWrite(path, why));
  return path;
}

/** Writes JSON through a temp file and a rename: a reader never sees half a report. */
export function writeJsonFile(cwd: string, file: string, data: unknown): void {
  writeTextFile(cwd, file, JSON.stringify(data, null, 2) + "\n");
}

/** Writes a report through a temp file and a rename: a reader never sees half of it. */
export function writeTextFile(cwd: string, file: string, text: string): void {
  const path = checkReportFile(cwd, file);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw cannotWrite(path, (e as NodeJS.ErrnoException).code ?? String(e));
  }
}

/**
 * Writes `--report FILE` after the work is done: a report that cannot be written is said as an
 * error, and the command's own exit code stands (a build that failed still says why it failed;
 * one that passed is not turned into a usage error). Returns that exit code.
 */
export function writeReportAfter(term: Terminal, cwd: string, file: string, data: unknown, exitCode: number): number {
  try {
    writeJsonFile(cwd, file, data);
  } catch (e) {
    if (!(e instanceof HbError)) throw e;
    term.error(
      new HbError(e.code, `${e.message}; the ${exitCode === 0 ? "work succeeded" : "exit code is the work's own"} (${exitCode})`, {
        hint: e.hint,
      }),
    );
  }
  return exitCode;
}
