import type { SandboxMode } from "./action-env";
import { sha256Hex } from "./digest";
import type { ExecPath } from "./graph";

// What an action produced: the action cache's value, as plain JSON.

export interface OutputFile {
  path: ExecPath;
  /** sha256 of the content; for a symlink, of "symlink\0<target>" */
  hash: string;
  size: number;
  executable: boolean;
  /** a relative symlink inside a tree output: its target */
  symlink?: string;
}

/** What an action produced: the AC's value. Plain JSON. */
export interface ActionResult {
  /** every output file, including the files inside output directories, sorted by path */
  files: OutputFile[];
  /** declared output directories (tree artifacts), sorted */
  dirs: ExecPath[];
  exitCode: number;
  stdout: string;
  stderr: string;
  /** when and how it was produced: for `hb explain` and provenance */
  executedAtMs: number;
  durationMs: number;
  sandbox: SandboxMode;
}

/** A symlink as a tree entry: named by the digest of its target, so equal links compare equal. */
export function symlinkEntry(path: string, target: string): OutputFile {
  return { path, hash: sha256Hex(`symlink\0${target}`), size: Buffer.byteLength(target), executable: false, symlink: target };
}
