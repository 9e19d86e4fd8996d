import { type ChildProcess, spawn } from "node:child_process";
import { HB } from "./helpers";

/** How long a test waits for a line before it fails (a loaded machine is slow, never this slow). */
const WAIT_MS = 45_000;

/**
 * A running `hb watch` (or `hb test --watch`, `hb run --watch`): its stderr as lines, and waits
 * for a line to appear, never for a fixed time.
 */
export class Watch {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number>;
  private partial = "";
  private readonly waiters: (() => void)[] = [];

  constructor(cwd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [HB, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      // the watch reads no input: scripts and CI give it none
      stdio: ["ignore", "pipe", "pipe"],
    });
    const take = (d: Buffer) => {
      this.partial += d.toString();
      const parts = this.partial.split("\n");
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stderr!.on("data", take);
    this.child.stdout!.on("data", take);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        for (const w of this.waiters.splice(0)) w();
        resolve(code ?? (signal ? 128 : -1));
      }),
    );
  }

  get output(): string {
    return [...this.lines, this.partial].join("\n");
  }

  /** The index of the first line at or after `from` matching `re`, once there is one. */
  async waitFor(re: RegExp, from = 0): Promise<number> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const i = this.lines.findIndex((l, k) => k >= from && re.test(l));
      if (i >= 0) return i;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`hb exited before a line matched ${re}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no line matched ${re} in ${WAIT_MS} ms:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Lines at or after `from` matching `re`. */
  count(re: RegExp, from = 0): number {
    return this.lines.filter((l, k) => k >= from && re.test(l)).length;
  }

  /** Sends `signal` and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<number> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** The summary line every finished build of a watch ends with. */
export const BUILT = /^hb: \d+ actions: \d+ executed/;
