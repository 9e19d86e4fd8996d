// The real `hb` CLI, bundled from the current sources, run as a child process: for tests that
// kill, signal or measure a server process.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** Bundles packages/cli/src/main.ts the way scripts/build.mjs does, into `outDir`. */
export async function bundleCli(outDir: string): Promise<string> {
  const outfile = join(outDir, "hb.mjs");
  await build({
    absWorkingDir: REPO,
    entryPoints: ["packages/cli/src/main.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["better-sqlite3", "esbuild", "fsevents"],
    banner: { js: "import { createRequire as __hbRequire } from 'node:module'; const require = __hbRequire(import.meta.url);" },
    logLevel: "warning",
  });
  return outfile;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  stderr(): string;
  /** resolves when stderr has a line matching `re` */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `hb cache serve --port 0 ...args` and resolves once it listens. */
export async function spawnServer(cli: string, args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, [cli, "cache", "serve", "--port", "0", ...args], {
    // the bundle is outside the repository: let it find better-sqlite3 there
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_PATH: join(REPO, "node_modules") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const waiters = new Set<() => void>();
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const waitFor = (re: RegExp, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(err)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`server exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${re} within ${timeoutMs} ms:\n${err}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  await waitFor(/ on http:\/\/\S+ \(/);
  const url = / on (http:\/\/\S+) \(/.exec(err)![1]!;
  return { child, pid: child.pid!, url, stderr: () => err, waitFor, exited };
}

/** The peak resident set size of a process, from /proc (Linux). */
export function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}
