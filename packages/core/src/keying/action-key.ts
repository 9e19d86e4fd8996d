import { sha256Hex } from "../base/digest";
import type { SandboxMode } from "../base/action-env";

/**
 * hb's action-semantics version: bump it when the meaning of an action changes (how hb runs
 * it, stages it, or reads its outputs), so old cache entries stop matching.
 */
export const ACTION_SEMANTICS_VERSION = 2;

/** An input or tool as it enters the key: path, content digest, executable bit. */
export interface KeyedFile {
  path: string;
  hash: string;
  size: number;
  executable: boolean;
}

export interface Platform {
  os: string;
  arch: string;
  sandbox: SandboxMode;
  network: boolean;
  /** REAPI platform properties (exec_properties over hb.config.ts's execProperties); absent when none */
  properties?: Readonly<Record<string, string>>;
}

/**
 * Everything that can change an action's result, and nothing else (docs/ARCHITECTURE.md, The action key).
 * Inputs enter by content digest, never by an upstream action's key: early cutoff.
 */
export interface ActionKeyMaterial {
  argv: readonly string[];
  /** the complete env the action gets */
  env: Readonly<Record<string, string>>;
  inputs: readonly KeyedFile[];
  tools: readonly KeyedFile[];
  /** pinned programs by their host (or exec) path and digest */
  toolchains: readonly KeyedFile[];
  outputs: readonly string[];
  outputDirs: readonly string[];
  platform: Platform;
  /** digest of the host's os-release and package database; absent in strict mode */
  hostFingerprint?: string;
  /** for `write` actions: the content's digest and its executable bit */
  content?: { hash: string; executable: boolean };
}

const byPath = (a: KeyedFile, b: KeyedFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** A canonical, versioned encoding: sorted, with fixed field order, so equal material gives equal bytes. */
export function encodeActionKeyMaterial(m: ActionKeyMaterial): string {
  const files = (xs: readonly KeyedFile[]) => [...xs].sort(byPath).map((f) => [f.path, f.hash, f.size, f.executable]);
  return JSON.stringify([
    "hb-action-key",
    ACTION_SEMANTICS_VERSION,
    ["argv", [...m.argv]],
    [
      "env",
      Object.keys(m.env)
        .sort()
        .map((k) => [k, m.env[k]]),
    ],
    ["inputs", files(m.inputs)],
    ["tools", files(m.tools)],
    ["toolchains", files(m.toolchains)],
    ["outputs", [...m.outputs].sort()],
    ["outputDirs", [...m.outputDirs].sort()],
    // properties only when there are some, so the keys of actions without any stay what they were
    ["platform", [m.platform.os, m.platform.arch, m.platform.sandbox, m.platform.network, ...sortedProperties(m.platform.properties)]],
    ["host", m.hostFingerprint ?? null],
    ["content", m.content ? [m.content.hash, m.content.executable] : null],
  ]);
}

/** Platform properties as REAPI orders them: by name; [] when there are none. */
export function sortedProperties(p: Readonly<Record<string, string>> | undefined): { name: string; value: string }[] {
  if (!p) return [];
  return Object.keys(p)
    .sort()
    .map((name) => ({ name, value: p[name]! }));
}

export function actionKey(m: ActionKeyMaterial): string {
  return sha256Hex(encodeActionKeyMaterial(m));
}
