import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunAction } from "../base/graph";
import { GENRULE_SHELL, SHELL_SETUP, commandLoggingTo, describeCommand } from "./shell";

const dir = mkdtempSync(join(tmpdir(), "hb-shell-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bash = (script: string) => spawnSync(GENRULE_SHELL, ["-c", SHELL_SETUP + script], { cwd: dir, encoding: "utf8" });

function runAction(argv: string[]): RunAction {
  return {
    id: 0,
    owner: "//p:t",
    mnemonic: "X",
    kind: "run",
    argv,
    env: {},
    inputs: [],
    tools: [],
    toolchains: [],
    outputs: [],
    outputDirs: [],
    stamp: false,
    tags: [],
    progress: "",
  };
}

describe("SHELL_SETUP", () => {
  it("fails a script at a failing command substitution in an argument, which bash alone lets pass", () => {
    expect(spawnSync(GENRULE_SHELL, ["-c", 'set -e; printf %s "$(false)"; echo on'], { encoding: "utf8" }).stdout).toBe("on\n");
    const r = bash('printf %s "$(false)"; echo on');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("hb: false: exit 1 in a command substitution or subshell");
  });

  it("changes nothing where errexit is off: || fallbacks, if conditions, set +e", () => {
    const r = bash('x=$(false) || x=fallback; if y=$(false); then :; fi; echo "$(false || echo alt)"; set +e; z=$(false); echo "$x"');
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("alt\nfallback\n");
    expect(r.status).toBe(0);
  });
});

describe("commandLoggingTo", () => {
  it("sends the output to the log and, on failure, prints it too and exits with the command's code", () => {
    const log = join(dir, "t.log");
    const ok = bash(commandLoggingTo("echo fine; echo warn >&2", log));
    expect([ok.status, ok.stdout]).toEqual([0, ""]);
    expect(readFileSync(log, "utf8")).toBe("fine\nwarn\n");
    const bad = bash(commandLoggingTo("echo 'not ok 1'; exit 7", log));
    expect([bad.status, bad.stdout]).toEqual([7, "not ok 1\n"]);
    expect(execFileSync(GENRULE_SHELL, ["-c", commandLoggingTo("true", join(dir, "log with space"))]).toString()).toBe("");
  });
});

describe("describeCommand", () => {
  it("shows a bash script as its rule wrote it, without hb's setup or log capture", () => {
    expect(describeCommand(runAction([GENRULE_SHELL, "-c", `${SHELL_SETUP}cat a > b`]))).toBe("cat a > b");
    const test = commandLoggingTo("/usr/bin/node --test 'a b.mjs'", "hb-out/p/test.log");
    expect(describeCommand(runAction([GENRULE_SHELL, "-c", SHELL_SETUP + test]))).toBe("/usr/bin/node --test 'a b.mjs'");
    expect(describeCommand(runAction(["/usr/bin/node", "x.js", "a b"]))).toBe("/usr/bin/node x.js 'a b'");
  });
});
