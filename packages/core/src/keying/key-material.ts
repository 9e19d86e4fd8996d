import type { ActionKeyMaterial, KeyedFile, Platform } from "./action-key";
import type { ActionSpec } from "../base/graph";
import { sha256Hex } from "../base/digest";
import { SYSTEM_PATH, determinismEnv } from "../base/action-env";
import type { SandboxMode } from "../base/action-env";

/** What `--stamp` gives the actions that declare `stamp: true`. */
export interface StampInfo {
  /** commit id of the workspace ("" outside git) */
  commit: string;
  /** commit time, seconds since 1970 */
  time: number;
}

export interface KeySettings {
  /** npm_install actions: what the tree depends on besides the lockfile (registry, platform, importer, pins) */
  npmInstall?: readonly string[];
  mode: SandboxMode;
  sourceDateEpoch: number;
  stamp?: StampInfo;
  /** the execroot path the action sees: EXECROOT in a sandbox, the staging directory without */
  execroot: string;
  home: string;
  tmpdir: string;
  /** digest of the host's os-release and package database (not used in strict mode) */
  hostFingerprint: () => string;
  /** hb.config.ts's `execProperties`: every run action's platform properties, under its target's own */
  execProperties?: Readonly<Record<string, string>>;
}

/**
 * What enters an action's key: its argv; the complete env it gets (declared + determinism env,
 * PATH from its tools); each input's, tool's and toolchain's path, digest and executable bit; its outputs;
 * the platform (with its REAPI platform properties); and, outside strict mode, the host fingerprint. Not its label, mnemonic or
 * progress message, nor where the workspace is.
 */
export function keyMaterial(
  a: ActionSpec,
  inputs: KeyedFile[],
  tools: KeyedFile[],
  toolchains: KeyedFile[],
  s: KeySettings,
): ActionKeyMaterial {
  if (a.kind === "fetch" || a.kind === "npm_install") {
    // no command and no sandbox: what is fetched (URL and pin), or the lockfile and how it resolves
    const argv =
      a.kind === "fetch"
        ? ["hb:fetch", a.url, a.integrity, a.executable ? "executable" : "plain"]
        : ["hb:npm-install", ...(s.npmInstall ?? [])];
    return {
      argv,
      env: {},
      inputs,
      tools: [],
      toolchains: [],
      outputs: a.outputs,
      outputDirs: a.outputDirs,
      platform: { os: "", arch: "", sandbox: "default", network: false },
    };
  }
  if (a.kind === "write") {
    return {
      argv: [],
      env: {},
      inputs: [],
      tools: [],
      toolchains: [],
      outputs: a.outputs,
      outputDirs: [],
      platform: { os: "", arch: "", sandbox: "default", network: false },
      content: { hash: sha256Hex(a.content), executable: a.executable },
    };
  }
  // PATH: the declared tools' directories, then the toolchains', then the system's
  const dirOf = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf("/")));
  const inExecroot = (d: string) => (d === "" ? s.execroot : `${s.execroot}/${d}`);
  const toolDirs = [...new Set(a.tools.map((t) => inExecroot(dirOf(t))))].sort();
  const toolchainDirs = [
    ...new Set(a.toolchains.map((t) => (t.path.startsWith("/") ? dirOf(t.path) || "/" : inExecroot(dirOf(t.path))))),
  ].sort();
  const path = [...new Set([...toolDirs, ...toolchainDirs, ...SYSTEM_PATH.split(":")])].join(":");
  const stamped = a.stamp && s.stamp !== undefined;
  const env: Record<string, string> = {
    ...a.env,
    ...determinismEnv({ sourceDateEpoch: stamped ? s.stamp!.time : s.sourceDateEpoch, path, home: s.home, tmpdir: s.tmpdir }),
  };
  if (stamped) env.HB_GIT_COMMIT = s.stamp!.commit;
  const properties = { ...s.execProperties, ...a.execProperties };
  const platform: Platform = {
    os: process.platform,
    arch: process.arch,
    sandbox: s.mode,
    network: false,
    ...(Object.keys(properties).length > 0 ? { properties } : {}),
  };
  return {
    argv: a.argv,
    env,
    inputs,
    tools,
    toolchains,
    outputs: a.outputs,
    outputDirs: a.outputDirs,
    platform,
    hostFingerprint: s.mode !== "strict" ? s.hostFingerprint() : undefined,
  };
}
