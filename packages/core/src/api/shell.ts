import type { ActionSpec } from "../base/graph";

/** The shell genrule commands run in, with Bazel's genrule-setup strictness. */
export const GENRULE_SHELL = "/bin/bash";
export const GENRULE_SHELL_SETUP = "set -e -o pipefail\n";

/** an argument (or a line of a genrule's cmd) longer than this is shown cut */
const ARG_PREVIEW = 300;

function cut(text: string): string {
  return text.length > ARG_PREVIEW ? `${text.slice(0, ARG_PREVIEW - 60)}...(${text.length - ARG_PREVIEW + 60} more characters)` : text;
}

/**
 * Shows the command a user wrote: a genrule's `cmd`, or the argv, shell-quoted. Failures print it
 * in CI logs anyone may read, so a long argument (a generated list, an embedded blob) is cut.
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
      if (a.argv[0] === GENRULE_SHELL && a.argv[1] === "-c" && a.argv.length === 3) {
        const cmd = a.argv[2]!.startsWith(GENRULE_SHELL_SETUP) ? a.argv[2]!.slice(GENRULE_SHELL_SETUP.length) : a.argv[2]!;
        return cmd.split("\n").map(cut).join("\n");
      }
      return a.argv.map((x) => cut(/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`)).join(" ");
  }
}
