import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ActionSpec, NpmInstallAction } from "../base/graph";
import { HbError } from "../base/errors";
import { DEFAULT_NPM_REGISTRY, type NpmConfig } from "../workspace/config";
import { readHbLock } from "./hb-lock";
import { parseLockfile } from "./lockfile";
import type { LockfilePolicy, ParsedLockfile } from "./npm-tree";
import { hostPlatform } from "./platform";

/** One download the fetch step must make (or find made), pinned. */
export interface FetchRequest {
  url: string;
  /** the SRI integrity it is pinned to; "" for an npm tarball pinned on this first fetch (into hb.lock.json) */
  integrity: string;
  /** who needs it, for messages: a label, or a lockfile entry */
  what: string;
}

/** How lockfiles of this workspace resolve: the registry, the allow-list, hb.lock.json's pins, this platform. */
export function npmPolicy(npm: NpmConfig | undefined, root: string): LockfilePolicy {
  return {
    registry: npm?.registry ?? DEFAULT_NPM_REGISTRY,
    allowUnpinned: npm?.allowUnpinned ?? [],
    pins: readHbLock(root),
    // asked of node's diagnostic report (5 ms): only where a lockfile is read
    get platform() {
      return hostPlatform();
    },
  };
}

/** The tree an npm_install action lays out, from its lockfile (checked: floating entries are refused). */
export function lockfileTree(a: NpmInstallAction, root: string, policy: LockfilePolicy): ParsedLockfile {
  const file = a.inputs[0]!;
  let text: string;
  try {
    text = readFileSync(join(root, file), "utf8");
  } catch {
    throw new HbError("MISSING_INPUT", `missing input file '${file}', needed by ${a.owner}`);
  }
  return parseLockfile(text, file, policy, a.importer);
}

/**
 * What an npm_install's tree depends on besides its lockfile's bytes, for its key: the registry
 * and allow-list it resolves with, the platform whose optional packages it installs, the importer
 * it lays out, and hb.lock.json's pins of its entries that have no integrity of their own.
 */
export function npmInstallKey(a: NpmInstallAction, root: string, policy: LockfilePolicy): string[] {
  const tree = lockfileTree(a, root, policy);
  const pinned = [...tree.packages, ...tree.links.flatMap((l) => (l.pkg ? [l.pkg] : []))]
    .filter((p) => policy.pins.get(p.url) === p.integrity)
    .map((p) => `${p.url}=${p.integrity}`);
  const { os, cpu, libc } = policy.platform;
  return [
    policy.registry,
    `importer=${a.importer}`,
    `platform=${os}-${cpu}-${libc}`,
    ...[...policy.allowUnpinned].sort(),
    ...[...new Set(pinned)].sort(),
  ];
}

/** Everything the actions need from outside: http_file URLs and every tarball of every lockfile tree. */
export function fetchRequests(actions: readonly ActionSpec[], root: string, policy: LockfilePolicy): FetchRequest[] {
  const requests: FetchRequest[] = [];
  for (const a of actions) {
    if (a.kind === "fetch") requests.push({ url: a.url, integrity: a.integrity, what: a.owner });
    if (a.kind === "npm_install") {
      const tree = lockfileTree(a, root, policy);
      for (const p of [...tree.packages, ...tree.links.flatMap((l) => (l.pkg ? [l.pkg] : []))])
        requests.push({ url: p.url, integrity: p.integrity, what: `${a.inputs[0]}: ${p.path}` });
    }
  }
  return requests;
}
