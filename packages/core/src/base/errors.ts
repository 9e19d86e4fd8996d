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
  | "BAD_WORKSPACE"
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
  | "BAD_TRUSTED_KEYS_FILE"
  | "INSECURE_CACHE_SERVER"
  | "CACHE_SERVER_FAILED"
  | "RUN_FAILED"
  | "INPUT_CHANGED"
  /** a source input lies where the merged view shows a generated file (found as a sandbox is laid out) */
  | "MERGED_VIEW_CONFLICT"
  | "REMOTE_UNSUPPORTED"
  /** the team cache could not be asked (hb report --server): unreachable, no answer in time, or refused */
  | "REMOTE_CACHE_FAILED"
  | "REMOTE_EXECUTION_FAILED"
  | "DISK_FULL"
  | "INTERNAL";

const EXIT_FOR_CODE: Partial<Record<HbErrorCode, ExitCode>> = {
  ACTION_FAILED: ExitCode.buildFailed,
  REMOTE_EXECUTION_FAILED: ExitCode.buildFailed,
  REMOTE_UNSUPPORTED: ExitCode.buildFailed,
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
  MERGED_VIEW_CONFLICT: ExitCode.buildFailed,
  DISK_FULL: ExitCode.buildFailed,
  INTERRUPTED: ExitCode.interrupted,
  NO_TESTS: ExitCode.noTestsFound,
  INTERNAL: ExitCode.internal,
};

/**
 * The facts a failure of each of these kinds carries, as data: `--report` writes them whole, and
 * the CLI's ui/ turns them into text (the message is one line; command and output are facts).
 */
export interface FailureFacts {
  ACTION_FAILED: {
    label: string;
    mnemonic: string;
    /** the command as the user wrote it, long arguments cut */
    command: string;
    exitCode: number | null;
    signal: string | null;
    stderrTail: string;
    stdoutTail: string;
    /** it failed on a file missing from its sandbox: most likely an input it did not declare */
    sandboxMissingFile: boolean;
    /** it ran past its time limit (seconds) and was killed with its process group */
    timedOutAfter?: number;
  };
  UNDECLARED_TOOL: { label: string; program: string; command: string };
  MISSING_OUTPUT: { label: string; path: string; command: string };
  OUTPUT_NOT_MATERIALIZED: { label: string; path: string; reason: string };
  FORBIDDEN_INPUT: { label: string; path: string; reason: string };
  SANDBOX_REQUIRED: { label: string };
  /**
   * a write failed for want of space: the disk (its mount point, type and free space) and the
   * path written; for an action whose command failed so, its command and output as ACTION_FAILED's
   */
  DISK_FULL: { disk: string; path: string; label?: string; command?: string; stderrTail?: string; stdoutTail?: string };
}

export type FailureCode = keyof FailureFacts;

export interface HbErrorData {
  code: HbErrorCode;
  message: string;
  location?: SourceLocation;
  /** what to do about it */
  hint?: string;
  /** for the codes of FailureFacts: the facts of the failure */
  facts?: FailureFacts[FailureCode];
}

/** A failure as `--report` writes it: `{ code, label?, ...facts, message, hint? }`. */
export type Failure =
  | { [C in FailureCode]: { code: C; message: string; hint?: string } & FailureFacts[C] }[FailureCode]
  | { code: Exclude<HbErrorCode, FailureCode>; label?: string; message: string; hint?: string; location?: SourceLocation };

export class HbError extends Error {
  readonly code: HbErrorCode;
  readonly location?: SourceLocation;
  readonly hint?: string;
  readonly facts?: FailureFacts[FailureCode];

  constructor(
    code: HbErrorCode,
    message: string,
    opts: { location?: SourceLocation; hint?: string; facts?: FailureFacts[FailureCode] } = {},
  ) {
    super(message);
    this.name = "HbError";
    this.code = code;
    this.location = opts.location;
    this.hint = opts.hint;
    this.facts = opts.facts;
  }

  /** A failure of a kind with facts: the message one line, the facts as data. */
  static of<C extends FailureCode>(code: C, message: string, facts: FailureFacts[C], opts: { hint?: string } = {}): HbError {
    return new HbError(code, message, { ...opts, facts });
  }

  /** The same failure as a target's: its message led by the label, which its facts name too. */
  ofTarget(label: string): HbError {
    const facts = this.facts ? { ...this.facts, label } : undefined;
    return new HbError(this.code, `${label}: ${this.message}`, { location: this.location, hint: this.hint, facts });
  }

  get exitCode(): ExitCode {
    return EXIT_FOR_CODE[this.code] ?? ExitCode.analysisFailed;
  }

  toData(): HbErrorData {
    const data: HbErrorData = { code: this.code, message: this.message };
    if (this.location) data.location = this.location;
    if (this.hint) data.hint = this.hint;
    if (this.facts) data.facts = this.facts;
    return data;
  }

  /** As `--report`'s `failures` lists it, naming the label it concerns where known. */
  toFailure(label?: string): Failure {
    const { facts, ...rest } = this.toData();
    return { ...(label !== undefined ? { label } : {}), ...rest, ...facts } as Failure;
  }

  static fromData(data: HbErrorData): HbError {
    return new HbError(data.code, data.message, { location: data.location, hint: data.hint, facts: data.facts });
  }
}

/** The facts a warning of each kind carries: the build's result stands, and this is what to know. */
export interface WarningFacts {
  /** a source was edited while its action ran: the result is not cached */
  SOURCE_CHANGED: { label: string; paths: string[] };
  /** a toolchain changed while the build ran: its users' results are not cached */
  TOOLCHAIN_CHANGED: { path: string; labels: string[]; uploaded: boolean };
  /** files dated in the future: re-read on every build until then */
  FUTURE_MTIME: { paths: string[] };
  /** what an earlier run of a failed action left in hb-out/ could not be removed */
  STALE_OUTPUT_KEPT: { label: string; reason: string };
  /** the team cache, in its own words: unavailable, refusing, an entry refused */
  REMOTE_CACHE: { message: string };
  /** the remote executor, in its own words: gone, answering wrongly (the action runs locally) */
  REMOTE_EXECUTION: { message: string };
  /** work hb does for the build on the side (removing a used sandbox) failed */
  BACKGROUND: { message: string };
  /** npm tarballs without an integrity were pinned by this first fetch into hb's lock file: to review and commit */
  PINNED_ON_FIRST_FETCH: { file: string; count: number };
}

export type Warning = { [C in keyof WarningFacts]: { code: C } & WarningFacts[C] }[keyof WarningFacts];

export function isHbError(e: unknown): e is HbError {
  return e instanceof HbError;
}

/**
 * Edit distance for "did you mean" suggestions: insertions, deletions, substitutions, and two
 * adjacent letters swapped (the commonest typo, `tset` for `test`) each count one.
 */
export function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    [before, prev] = [prev, row];
  }
  return prev[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    // of two as close, the one of the word's length: `tset` is `test` misspelled, not `set`
    if (d < bestDistance || (d === bestDistance && Math.abs(c.length - word.length) < Math.abs(best!.length - word.length))) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
