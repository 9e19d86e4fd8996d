/** How actions are sandboxed: default (system directories visible), strict (declared toolchains only), none (unsandboxed, visibly). */
export type SandboxMode = "default" | "strict" | "none";
export const SANDBOX_MODES: readonly SandboxMode[] = ["default", "strict", "none"];

// The fixed environment every action gets, so that a correct action is reproducible on any
// machine: same clock, zone, locale, home, paths.

/** The execroot's absolute path inside the sandbox: absolute paths never leak the checkout. */
export const EXECROOT = "/hb/execroot";
export const SANDBOX_HOME = "/hb/home";
/** Where `--audit` has strace write its traces inside the sandbox. */
export const AUDIT_DIR = "/hb/audit";
export const SANDBOX_HOSTNAME = "hb";
/** System directories on PATH after the declared tools' directories. */
export const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";

/** Env names hb sets for every action; an action may not declare them. */
export const RESERVED_ENV = new Set(["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "SOURCE_DATE_EPOCH", "PWD", "SHELL"]);

export function determinismEnv(opts: { sourceDateEpoch: number; path: string; home: string; tmpdir: string }): Record<string, string> {
  return {
    HOME: opts.home,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PATH: opts.path,
    // bash looks the user up in /etc/passwd for $SHELL when it is unset; set, nothing is read
    SHELL: "/bin/bash",
    SOURCE_DATE_EPOCH: String(opts.sourceDateEpoch),
    TMPDIR: opts.tmpdir,
    TZ: "UTC",
  };
}
