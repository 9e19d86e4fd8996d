import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ActionSpec } from "../base/graph";
import { HbError } from "../base/errors";
import { DEFAULT_NPM_REGISTRY, type NpmConfig } from "../workspace/config";
import { type LockfilePolicy, type NpmPackage, parseLockfile } from "./lockfile";

/** One download the fetch step must make (or find made), pinned. */
export interface FetchRequest {
  url: string;
  integrity: string;
  /** who needs it, for messages: a label, or a lockfile entry */
  what: string;
}

export function npmPolicy(npm: NpmConfig | undefined): LockfilePolicy {
  return { registry: npm?.registry ?? DEFAULT_NPM_REGISTRY, allowUnpinned: npm?.allowUnpinned ?? [] };
}

/** The packages an npm_install action installs, from its lockfile (checked: unpinned entries are refused). */
export function lockfilePackages(a: ActionSpec, root: string, policy: LockfilePolicy): NpmPackage[] {
  const file = a.inputs[0]!;
  let text: string;
  try {
    text = readFileSync(join(root, file), "utf8");
  } catch {
    throw new HbError("MISSING_INPUT", `missing input file '${file}', needed by ${a.owner}`);
  }
  return parseLockfile(text, file, policy).packages;
}

/** Everything the actions need from outside: http_file URLs and every lockfile package. */
export function fetchRequests(actions: readonly ActionSpec[], root: string, policy: LockfilePolicy): FetchRequest[] {
  const requests: FetchRequest[] = [];
  for (const a of actions) {
    if (a.kind === "fetch") requests.push({ url: a.url, integrity: a.integrity, what: a.owner });
    if (a.kind === "npm_install") {
      for (const p of lockfilePackages(a, root, policy))
        requests.push({ url: p.url, integrity: p.integrity, what: `${a.inputs[0]}: ${p.path}` });
    }
  }
  return requests;
}
