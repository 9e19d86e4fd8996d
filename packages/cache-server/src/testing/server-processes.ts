// `hb cache serve` as processes, for a test file: the CLI bundled once, every server killed after.
import { afterAll, beforeAll } from "vitest";
import { type ServerProcess, bundleCli, spawnServer } from "./cli";
import { removeTempDirs, tempDir } from "./server";

/**
 * For a test file that runs `hb cache serve` as processes: bundles the CLI once before its tests,
 * and after them kills every server still running and removes the temp directories. `serve`
 * starts one (`spawnServer` with that CLI); `cli()` is the bundle, to run it otherwise.
 */
export function serverProcesses(): { serve(args: string[]): Promise<ServerProcess>; cli(): string } {
  let cli: string | undefined;
  const running = new Set<ServerProcess>();
  beforeAll(async () => {
    cli = await bundleCli(tempDir("hb-cli-"));
  });
  afterAll(() => {
    for (const p of running) p.child.kill("SIGKILL");
    removeTempDirs();
  });
  return {
    async serve(args) {
      const p = await spawnServer(cli!, args);
      running.add(p);
      void p.exited.then(() => running.delete(p));
      return p;
    },
    cli: () => cli!,
  };
}
