import type { SandboxMode } from "./action-env";
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
