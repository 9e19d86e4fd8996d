import type { ActionSpec } from "../base/graph";

/** The shell genrule commands run in (an implicit toolchain, pinned by its digest at build time). */
export const GENRULE_SHELL = "/bin/bash";

/**
 * The coreutils every genrule command may run besides bash's builtins, as implicit toolchains
 * (pinned by their digest at build time, as the shell is): what `cat $(SRCS) > $@` needs, under
 * --sandbox=strict too. Any other program (tar, python3, ...) is declared with toolchain().
 */
export const GENRULE_COREUTILS: readonly string[] = [
  "basename",
  "cat",
  "chmod",
  "cp",
  "cut",
  "date",
  "dirname",
  "env",
  "expr",
  "head",
  "ln",
  "ls",
  "md5sum",
  "mkdir",
  "mktemp",
  "mv",
  "od",
  "paste",
  "readlink",
  "realpath",
  "rm",
  "rmdir",
  "seq",
  "sha256sum",
  "sleep",
  "sort",
  "stat",
  "tail",
  "tee",
  "touch",
  "tr",
  "uniq",
  "wc",
].map((name) => `/usr/bin/${name}`);

/**
 * What every bash script an action runs (a genrule's cmd, `ctx.actions.run` of `bash -c`) starts
 * with: Bazel's genrule-setup strictness (errexit, pipefail), and a failing command substitution
 * failing the script. `inherit_errexit` stops a substitution at its first failure, but bash does
 * not fail a command over a failed substitution in its arguments (`printf %s "$(cat missing)"`
 * succeeds, printing nothing): so with errtrace, a failure inside a subshell while errexit is on
 * there signals the script, which then exits 1. Where errexit is off (`x=$(cmd) || x=default`,
 * `if`, `set +e`), bash runs no ERR trap, and nothing changes.
 */
export const SHELL_SETUP =
  "set -eE -o pipefail; shopt -s inherit_errexit; " +
  "trap 'hb_rc=$?; [[ $- != *e* || $BASHPID == $$ ]] || { echo \"hb: $BASH_COMMAND: exit $hb_rc in a command substitution or subshell\" >&2; kill -USR1 $$; }' ERR; " +
  "trap 'exit 1' USR1\n";

/**
 * Linux refuses to start a program (spawn fails with E2BIG) over one argument longer than
 * MAX_ARG_STRLEN (32 pages, with its NUL), or over all arguments and environment together beyond
 * ARG_MAX (a quarter of the stack limit: 2 MiB by default). The sandbox adds its own arguments,
 * so an action keeps a margin below the second.
 */
export const MAX_ARG_BYTES = 128 * 1024;
export const MAX_COMMAND_LINE_BYTES = 2 * 1024 * 1024 - 256 * 1024;

/** What one argument or environment entry costs of ARG_MAX: its bytes, its NUL, its pointer. */
export function commandLineCost(word: string): number {
  return Buffer.byteLength(word) + 1 + 8;
}

/** Whether an action's argv is a bash script (`bash -c SCRIPT`), which gets SHELL_SETUP. */
export function isBashScript(argv: readonly string[]): boolean {
  return argv.length >= 2 && /(^|\/)bash$/.test(argv[0]!) && argv[1] === "-c";
}

/** Shell-quotes one word for a bash command line. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const LOG_TAIL = (log: string) => `\n) > ${log} 2>&1 || { hb_rc=$?; printf '%s\\n' "$(<${log})"; exit $hb_rc; }`;

/**
 * A bash command whose stdout and stderr go to `log` (a declared output, as a test's log is), and
 * are printed when it fails, so that the failure shows them; it exits with the command's code.
 * Only bash itself runs: a strict sandbox needs no other program for it. Failures show `command`.
 */
export function commandLoggingTo(command: string, log: string): string {
  return `( ${command}${LOG_TAIL(shellQuote(log))}`;
}

/** an argument (or a line of a genrule's cmd) longer than this is shown cut */
const ARG_PREVIEW = 300;

function cut(text: string): string {
  return text.length > ARG_PREVIEW ? `${text.slice(0, ARG_PREVIEW - 60)}...(${text.length - ARG_PREVIEW + 60} more characters)` : text;
}

/** A bash script as its rule wrote it: without hb's setup and log capture. */
function userScript(script: string): string {
  let s = script.startsWith(SHELL_SETUP) ? script.slice(SHELL_SETUP.length) : script;
  const log = /^\( [\s\S]*\n\) > (.+?) 2>&1 \|\| /.exec(s)?.[1];
  if (log !== undefined && s.endsWith(LOG_TAIL(log))) s = s.slice(2, s.length - LOG_TAIL(log).length);
  return s;
}

/**
 * Shows the command a user wrote: a bash script as its rule wrote it (a genrule's `cmd`, a test's
 * command), or the argv, shell-quoted. Failures print it in CI logs anyone may read, so a long
 * argument (a generated list, an embedded blob) is cut.
 */
export function describeCommand(a: ActionSpec): string {
  switch (a.kind) {
    case "write":
      return `(write ${a.outputs[0]})`;
    case "fetch":
      return `(fetch ${a.url})`;
    case "npm_install":
      return `(npm install ${a.inputs[0]})`;
    case "run":
      if (isBashScript(a.argv) && a.argv.length === 3) return userScript(a.argv[2]!).split("\n").map(cut).join("\n");
      return a.argv.map((x) => cut(shellQuote(x))).join(" ");
  }
}
