// Failures are data: a stable code a script can match on, a message a user can act on, and,
// where the failure comes from a file, where in it.

export interface SourceLocation {
  /** workspace-relative path */
  file: string;
  line?: number;
  column?: number;
}

/** Process exit codes, one meaning each (Bazel's split: build failure vs. bad command line/analysis). */
export const ExitCode = {
  ok: 0,
  buildFailed: 1,
  analysisFailed: 2,
  testFailed: 3,
  noTestsFound: 4,
  internal: 37,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type HbErrorCode =
  | "USAGE"
  | "NO_WORKSPACE"
  | "BAD_CONFIG"
  | "BAD_LABEL"
  | "NO_SUCH_PACKAGE"
  | "NO_SUCH_TARGET"
  | "BUILD_FILE_SYNTAX"
  | "BUILD_FILE_ERROR"
  | "FORBIDDEN_IN_BUILD_FILE"
  | "DUPLICATE_TARGET"
  | "BAD_ATTRIBUTE"
  | "OUTPUT_CONFLICT"
  | "OUTPUT_OUTSIDE_PACKAGE"
  | "CYCLE"
  | "SYMLINK_ESCAPE"
  | "MISSING_INPUT"
  | "FORBIDDEN_INPUT"
  | "SANDBOX_REQUIRED"
  | "BAD_MAKE_VARIABLE"
  | "BWRAP_MISSING"
  | "STRACE_MISSING"
  | "SANDBOX_FAILED"
  | "ACTION_FAILED"
  | "TOOLCHAIN_MISMATCH"
  | "UNDECLARED_TOOL"
  | "MISSING_OUTPUT"
  | "BAD_OUTPUT"
  | "OUTPUT_NOT_MATERIALIZED"
  | "BAD_OUT_DIR"
  | "QUERY_SYNTAX"
  | "NO_TESTS"
  | "BAD_LOCKFILE"
  | "UNPINNED_DEPENDENCY"
  | "INTEGRITY_MISMATCH"
  | "FETCH_FAILED"
  | "NOT_FETCHED"
  | "KEY_EXISTS"
  | "KEY_UNREADABLE"
  | "BAD_KEY"
  | "BAD_PROVENANCE"
  | "UNREADABLE_FILE"
  | "INTERRUPTED"
  | "BAD_TOKENS_FILE"
  | "INSECURE_CACHE_SERVER"
  | "CACHE_SERVER_FAILED"
  | "RUN_FAILED"
  | "INPUT_CHANGED"
  | "INTERNAL";

const EXIT_FOR_CODE: Partial<Record<HbErrorCode, ExitCode>> = {
  ACTION_FAILED: ExitCode.buildFailed,
  TOOLCHAIN_MISMATCH: ExitCode.buildFailed,
  INTEGRITY_MISMATCH: ExitCode.buildFailed,
  FETCH_FAILED: ExitCode.buildFailed,
  NOT_FETCHED: ExitCode.buildFailed,
  UNDECLARED_TOOL: ExitCode.buildFailed,
  MISSING_OUTPUT: ExitCode.buildFailed,
  BAD_OUTPUT: ExitCode.buildFailed,
  OUTPUT_NOT_MATERIALIZED: ExitCode.buildFailed,
  MISSING_INPUT: ExitCode.buildFailed,
  FORBIDDEN_INPUT: ExitCode.buildFailed,
  SANDBOX_REQUIRED: ExitCode.buildFailed,
  SANDBOX_FAILED: ExitCode.buildFailed,
  RUN_FAILED: ExitCode.buildFailed,
  INPUT_CHANGED: ExitCode.buildFailed,
  INTERRUPTED: ExitCode.interrupted,
  NO_TESTS: ExitCode.noTestsFound,
  INTERNAL: ExitCode.internal,
};

export interface HbErrorData {
  code: HbErrorCode;
  message: string;
  location?: SourceLocation;
  /** what to do about it */
  hint?: string;
}

export class HbError extends Error {
  readonly code: HbErrorCode;
  readonly location?: SourceLocation;
  readonly hint?: string;

  constructor(code: HbErrorCode, message: string, opts: { location?: SourceLocation; hint?: string } = {}) {
    super(message);
    this.name = "HbError";
    this.code = code;
    this.location = opts.location;
    this.hint = opts.hint;
  }

  get exitCode(): ExitCode {
    return EXIT_FOR_CODE[this.code] ?? ExitCode.analysisFailed;
  }

  toData(): HbErrorData {
    const data: HbErrorData = { code: this.code, message: this.message };
    if (this.location) data.location = this.location;
    if (this.hint) data.hint = this.hint;
    return data;
  }

  static fromData(data: HbErrorData): HbError {
    return new HbError(data.code, data.message, { location: data.location, hint: data.hint });
  }
}

export function isHbError(e: unknown): e is HbError {
  return e instanceof HbError;
}

export function formatLocation(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  return s;
}

/** One line per fact: `ERROR: file:line:col: message` then the hint, as compilers print. */
export function formatError(e: HbError): string {
  const where = e.location ? `${formatLocation(e.location)}: ` : "";
  let s = `ERROR: ${where}${e.message}`;
  if (e.hint) s += `\n  hint: ${e.hint}`;
  return s;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
