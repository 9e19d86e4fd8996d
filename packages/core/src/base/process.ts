export interface SpawnResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** stopped by the abort signal (Ctrl-C) */
  canceled: boolean;
  /** the program could not be started at all */
  spawnError: string | undefined;
}

/** Runs a process with exactly `env`, capturing its output; never throws for a failing process. */
export async function spawnProcess(
  file: string,
  args: readonly string[],
  opts: {
    cwd?: string;
    env: Readonly<Record<string, string>>;
    signal: AbortSignal;
    input?: string;
    /**
     * The process ends by itself if hb dies (bwrap's --die-with-parent): no exit handler needed.
     * Without it, execa kills the process when hb exits, at the price of signal listeners set up
     * for every spawn.
     */
    diesWithParent?: boolean;
  },
): Promise<SpawnResult> {
  // execa is loaded on first spawn: a no-op build spawns nothing and should not pay for it
  const { execa } = await import("execa");
  const r = await execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: "ignore" as const }),
    reject: false,
    cleanup: opts.diesWithParent !== true,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 1000,
    stripFinalNewline: false,
    maxBuffer: 64 * 1024 * 1024,
  });
  const startFailed = r.failed && r.exitCode === undefined && r.signal === undefined && !r.isCanceled;
  return {
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    canceled: r.isCanceled,
    spawnError: startFailed ? ((r.cause as Error | undefined)?.message ?? r.shortMessage) : undefined,
  };
}
