// Real Bazel (Debian's bazel-bootstrap, 4.2) run as a client of the server under test.
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

function findBazel(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, "bazel"), constants.X_OK);
      return join(dir, "bazel");
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export const BAZEL = findBazel();

export interface BazelRun {
  code: number;
  stderr: string;
}

export function bazel(outputRoot: string, cwd: string, args: string[]): Promise<BazelRun> {
  // the system rc stays: Debian's points Bazel at its install base (/etc/bazel/bazelrc)
  const startup = [`--output_user_root=${outputRoot}`, "--nohome_rc", "--noworkspace_rc", "--max_idle_secs=300"];
  return new Promise((resolve) => {
    execFile(BAZEL!, [...startup, ...args], { cwd, maxBuffer: 64 << 20, env: { ...process.env, TZ: "UTC" } }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}
