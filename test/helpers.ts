import { execa } from "execa";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
export const HB = join(REPO, "packages/cli/dist/hb.mjs");

const made: string[] = [];
afterAll(() => {
  if (process.env.HB_KEEP_TEST_DIRS) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh workspace in a temp directory: hb.config.ts plus `files` (path -> content; "+x" suffix in key marks executable). */
export function makeWorkspace(files: Record<string, string> = {}, config = "export default {};\n"): string {
  const dir = mkdtempSync(join(tmpdir(), "hb-test-"));
  made.push(dir);
  writeFiles(dir, { "hb.config.ts": config, ...files });
  return dir;
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hb-tmp-"));
  made.push(dir);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const executable = name.endsWith("+x");
    const path = join(dir, executable ? name.slice(0, -2) : name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (executable) chmodSync(path, 0o755);
  }
}

export interface HbRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr */
  output: string;
}

/** Runs the built hb CLI in `cwd`, with a minimal env plus `env`. */
export async function hb(cwd: string, args: string[], env: Record<string, string> = {}): Promise<HbRun> {
  const r = await execa(process.execPath, [HB, ...args], {
    cwd,
    reject: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    extendEnv: false,
    stdin: "ignore",
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}\n${r.stderr}` };
}

/** The summary counts from hb's last line. */
export function summary(run: HbRun): { actions: number; executed: number; cached: number; failed: number } {
  const m = /hb: (\d+) actions: (\d+) executed, (\d+) cached(?: \(\d+ remote\))?, (\d+) failed/.exec(run.stderr);
  if (!m) throw new Error(`no summary line in:\n${run.output}`);
  return { actions: Number(m[1]), executed: Number(m[2]), cached: Number(m[3]), failed: Number(m[4]) };
}

/** Which targets' actions ran, from the non-TTY progress lines. */
export function executedLabels(run: HbRun): string[] {
  return [...run.stderr.matchAll(/^\[\d+\/\d+\] \S+ (?:genrule )?(\/\/\S+)$/gm)].map((m) => m[1]!).sort();
}
