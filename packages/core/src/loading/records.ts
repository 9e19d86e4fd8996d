// What an analysis read, recorded by the loading host as it served the evaluator, so that the
// analysis cache can tell cheaply whether a stored analysis still holds.

/** A file whose content the analysis read (hb.config.ts, BUILD.ts, files they import). */
export interface FileRecord {
  path: string;
  size: number;
  mtimeMs: number;
  /** set by the kernel on every change, whatever is done to mtime */
  ctimeMs: number;
  ino: number;
  /** xxhash64 of the content */
  fingerprint: string;
}

/** A directory whose listing the analysis depends on. */
export interface DirRecord {
  path: string;
  mtimeMs: number;
  ctimeMs: number;
}

/** A `glob()` call or a package discovery (`//pkg/...`), re-run when a directory below `base` changed. */
export type ListingRecord =
  | { kind: "glob"; base: string; include: string[]; exclude: string[]; result: string[] }
  | { kind: "packages"; base: string; result: string[] };

export interface AnalysisInputs {
  files: FileRecord[];
  /** paths where a BUILD.ts or an imported file was looked for and not found, and predeclared outputs' paths (no source file may appear there) */
  absent: string[];
  dirs: DirRecord[];
  listings: ListingRecord[];
  /** wall-clock time at which the records were taken (racy-clean rule) */
  recordedAtMs: number;
}

export interface AnalysisRequest {
  workspaceRoot: string;
  /** the root as the kernel resolves it: what symlinks' real paths are compared with */
  workspaceRealRoot: string;
  patterns: string[];
  /** package of the current directory, for relative patterns */
  cwdPkg: string;
}
