import type { SandboxMode } from "../base/action-env";
import type { ActionResult, OutputFile } from "../base/action-result";
import { HbError } from "../base/errors";
import type { FetchAction, NpmInstallAction, WriteAction } from "../base/graph";
import type { OutputBase } from "../caching/output-base";
import { FetchStore } from "../fetch/fetch-step";
import { installPackages } from "../fetch/npm-install";
import type { LockfilePolicy } from "../fetch/npm-tree";
import { lockfileTree } from "../fetch/requests";

// The actions hb performs itself, without a command: their outputs straight into the CAS.

function resultOf(files: OutputFile[], dirs: readonly string[], started: number, mode: SandboxMode): ActionResult {
  return {
    files,
    dirs: [...dirs],
    exitCode: 0,
    stdout: "",
    stderr: "",
    executedAtMs: started,
    durationMs: Date.now() - started,
    sandbox: mode,
  };
}

/** An action hb performs itself: write, fetch or npm_install. */
export function builtinAction(
  a: WriteAction | FetchAction | NpmInstallAction,
  ctx: { root: string; base: OutputBase; policy: LockfilePolicy; epoch: number; mode: SandboxMode },
): ActionResult {
  switch (a.kind) {
    case "write":
      return writeAction(a, ctx.base, ctx.epoch, ctx.mode);
    case "fetch":
      return fetchAction(a, ctx.base, ctx.mode);
    case "npm_install":
      return npmInstallAction(a, ctx.root, ctx.base, ctx.policy, ctx.epoch, ctx.mode);
  }
}

/** A file with given content. */
function writeAction(a: WriteAction, base: OutputBase, epoch: number, mode: SandboxMode): ActionResult {
  const started = Date.now();
  const digest = base.cas.putBytes(a.content, epoch);
  return resultOf([{ path: a.outputs[0]!, hash: digest.hash, size: digest.size, executable: a.executable }], [], started, mode);
}

/** An external file, as the fetch step fetched and checked it. */
function fetchAction(a: FetchAction, base: OutputBase, mode: SandboxMode): ActionResult {
  const started = Date.now();
  const blob = new FetchStore(base).lookup(a.url, a.integrity);
  if (!blob) throw new HbError("NOT_FETCHED", `${a.owner}: ${a.url} is not fetched`, { hint: "run `hb fetch`" });
  return resultOf([{ path: a.outputs[0]!, hash: blob.hash, size: blob.size, executable: a.executable }], [], started, mode);
}

/** A node_modules tree, from the lockfile's tarballs the fetch step fetched. */
function npmInstallAction(
  a: NpmInstallAction,
  root: string,
  base: OutputBase,
  policy: LockfilePolicy,
  epoch: number,
  mode: SandboxMode,
): ActionResult {
  const started = Date.now();
  const files = installPackages(lockfileTree(a, root, policy), new FetchStore(base), base.cas, a.outputDirs[0]!, epoch);
  return resultOf(files, a.outputDirs, started, mode);
}
