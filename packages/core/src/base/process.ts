export interface SpawnResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** stopped by the abort signal (Ctrl-C) */
  canceled: boolean;
  /** the program could not be started at all */
  spawnError: string | undefined;
  /** it ran past its time limit and was killed, with every process of its group */
  timedOut: boolean;
}

/** How long a process killed for its time limit has to end on SIGTERM before its group gets SIGKILL. */
const KILL_GRACE_MS = 2000;

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
    /**
     * A time limit: past it, the process's group (it leads one of its own) gets SIGTERM, then
     * SIGKILL, so a test's children (a server it started, a worker pool) end with it.
     */
    timeoutMs?: number;
  },
): Promise<SpawnResult> {
  // execa is loaded on first spawn: a no-op build spawns nothing and should not pay for it
  const { execa } = await import("execa");
  const limited = opts.timeoutMs !== undefined;
  const sub = execa(file, args, {
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
    detached: limited,
  });
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (sub.pid !== undefined) process.kill(-sub.pid, signal);
    } catch {
      // the group is gone already
    }
  };
  let grace: NodeJS.Timeout | undefined;
  const limit = limited
    ? setTimeout(() => {
        timedOut = true;
        killGroup("SIGTERM");
        grace = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
      }, opts.timeoutMs)
    : undefined;
  const r = await sub;
  clearTimeout(limit);
  clearTimeout(grace);
  if (timedOut) killGroup("SIGKILL");
  const startFailed = r.failed && r.exitCode === undefined && r.signal === undefined && !r.isCanceled;
  return {
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    canceled: r.isCanceled,
    spawnError: startFailed ? ((r.cause as Error | undefined)?.message ?? r.shortMessage) : undefined,
    timedOut,
  };
}
