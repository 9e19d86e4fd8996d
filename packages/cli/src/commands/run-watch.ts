import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { type ExitCode, HbError, type Rebuild } from "@hb/core/engine";
import type { CommandContext } from "../args";
import { createTerminal, type Terminal } from "../ui/terminal";
import { runWatch } from "./watch";

export const RESTART_POLICIES = ["after-build", "on-change", "notify"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** How long a program has to stop on SIGTERM before its process group is killed. */
const STOP_GRACE_MS = 3000;

/**
 * The `--restart` values: a policy for every target, and `LABEL=POLICY` for one; the policy of
 * the target named by `targets[i]`.
 */
export function restartPolicies(values: readonly string[], targets: readonly string[]): (label: string, i: number) => RestartPolicy {
  let all: RestartPolicy = "after-build";
  const one = new Map<string, RestartPolicy>();
  const check = (p: string): RestartPolicy => {
    if (!(RESTART_POLICIES as readonly string[]).includes(p))
      throw new HbError("USAGE", `--restart must be one of ${RESTART_POLICIES.join(", ")} (or LABEL=POLICY), got '${p}'`);
    return p as RestartPolicy;
  };
  for (const v of values) {
    const eq = v.lastIndexOf("=");
    if (eq < 0) all = check(v);
    else {
      const label = v.slice(0, eq);
      if (!targets.includes(label)) throw new HbError("USAGE", `--restart ${v}: ${label} is not one of the targets (${targets.join(" ")})`);
      one.set(label, check(v.slice(eq + 1)));
    }
  }
  return (label, i) => one.get(targets[i] ?? label) ?? one.get(label) ?? all;
}

/**
 * One program `hb run --watch` keeps running: in a process group of its own, so that stopping it
 * stops whatever it started (no orphans), restarted or told of each build as its policy says.
 */
class Program {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    readonly label: string,
    readonly policy: RestartPolicy,
    private readonly term: Terminal,
    private readonly how: { root: string; cwd: string; args: readonly string[] },
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  start(executable: string): void {
    const { root, cwd, args } = this.how;
    const child = spawn(join(root, executable), [...args], {
      cwd,
      // a dev server reads its notifications there; otherwise it gets nothing (hb reads no input either)
      stdio: [this.policy === "notify" ? "pipe" : "ignore", "inherit", "inherit"],
      env: { ...process.env, BUILD_WORKSPACE_DIRECTORY: root },
      detached: true,
    });
    this.child = child;
    this.stopping = false;
    child.stdin?.on("error", () => {
      // the program closed its input: it takes no notifications
    });
    this.exited = new Promise((resolve) => {
      child.once("error", (e) => {
        this.term.error(
          new HbError("RUN_FAILED", `could not start ${executable}: ${e.message}`, {
            hint: "the command that makes it must mark it executable (chmod +x $@) and start it with a #! line",
          }),
        );
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once("exit", (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!this.stopping) this.term.line(`hb: ${this.label} exited ${signal ? `on ${signal}` : `with code ${code}`}`);
        resolve();
      });
    });
    this.term.line(`hb: started ${this.label} (pid ${child.pid})`);
  }

  /** Stops the program and everything in its process group: SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.stopping = true;
    signalGroup(child.pid, "SIGTERM");
    const killer = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(killer);
    // what it started and left behind goes with it
    signalGroup(child.pid, "SIGKILL");
  }

  /** Kills the process group at once (hb is exiting and cannot wait). */
  kill(): void {
    if (this.child?.pid) signalGroup(this.child.pid, "SIGKILL");
  }

  notify(line: object): void {
    this.child?.stdin?.write(JSON.stringify(line) + "\n");
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** `hb run --watch`: builds the targets, runs each program, and restarts or notifies it as each change is rebuilt. */
export async function runWatching(
  ctx: CommandContext,
  targets: string[],
  args: readonly string[],
  restart: readonly string[],
): Promise<ExitCode> {
  if (targets.length > 1 && args.length > 0) {
    throw new HbError("USAGE", "program arguments after -- go to a single program: give one target, or none", {
      hint: `e.g. hb run --watch ${targets[0]} -- ${args.join(" ")}`,
    });
  }
  const policyOf = restartPolicies(restart, targets);
  const term = createTerminal();
  const programs = new Map<string, Program>();
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  let usage: HbError | undefined;
  // a second Ctrl-C exits at once: the programs' groups go too
  const killAll = () => {
    for (const p of programs.values()) p.kill();
  };
  process.once("exit", killAll);
  // each build's programs are handled in turn: a restart waits for the last one's stop
  let queue = Promise.resolve();
  const onChange = () => {
    for (const p of programs.values()) if (p.policy === "on-change" && p.running) queue = queue.then(() => p.stop());
  };
  const onRebuild = (r: Rebuild) => {
    queue = queue.then(async () => {
      const ok = r.exitCode === 0;
      const labels = [...r.executables.keys()];
      for (const [i, label] of labels.entries()) {
        const executable = r.executables.get(label);
        if (!executable) {
          usage = new HbError("USAGE", `${label} is not executable`, {
            hint: "hb run takes a node_binary, or a genrule with executable: true",
          });
          stop.abort();
          return;
        }
        let p = programs.get(label);
        if (!p) {
          p = new Program(label, policyOf(label, i), term, { root: r.root, cwd: ctx.cwd, args });
          programs.set(label, p);
        }
        if (!ok) {
          if (p.policy === "notify") p.notify({ build: "failed", number: r.number, changed: r.changed });
          term.line(
            p.running
              ? `hb: the build failed: ${label} keeps running its last good build`
              : `hb: the build failed: ${label} is not started`,
          );
          continue;
        }
        const changed = r.changedTargets.includes(label);
        if (p.running && p.policy === "notify") p.notify({ build: "ok", number: r.number, changed: r.changed, outputsChanged: changed });
        else if (p.running && changed) {
          await p.stop();
          p.start(executable);
        } else if (!p.running) p.start(executable);
      }
    });
  };
  try {
    const code = await runWatch({ ...ctx, signal }, targets, { term, changed: onChange, rebuilt: onRebuild });
    await queue;
    if (usage) throw usage;
    return code;
  } finally {
    await Promise.all([...programs.values()].map((p) => p.stop()));
    process.removeListener("exit", killAll);
  }
}
