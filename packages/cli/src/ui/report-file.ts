import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Writes JSON through a temp file and a rename: a reader never sees half a report. */
export function writeJsonFile(cwd: string, file: string, data: unknown): void {
  const path = resolve(cwd, file);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
  renameSync(tmp, path);
}
