import { existsSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { sep } from "node:path";
import { vcsDirOf } from "./config";

// What an action may be shown of this machine, decided where it is staged or bound (the analysis
// that named it is a pull request's code, and a symlink can change after it ran). The rules are
// in docs/ARCHITECTURE.md, Trust boundaries.

/** Where credentials live under $HOME: no toolchain may be, hold or lie in one of them. */
const CREDENTIAL_STORES = [
  ".ssh",
  ".gnupg",
  ".aws",
  ".azure",
  ".config/gcloud",
  ".docker",
  ".kube",
  ".netrc",
  ".git-credentials",
  ".npmrc",
  ".pypirc",
];

/** Real paths an action never sees, whatever names them. */
export interface Forbidden {
  /** the workspace root, resolved */
  realRoot: string;
  /** hb's state and anything else hidden (signing keys), resolved */
  hidden: readonly string[];
}

/** What no action sees in a build in `root`: `hidden` (hb's state, signing keys) as the kernel resolves them. */
export function forbiddenPaths(root: string, hidden: readonly string[]): Forbidden {
  const real = (p: string) => (existsSync(p) ? realpathSync.native(p) : p);
  return { realRoot: real(root), hidden: hidden.map(real) };
}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Why the file at real path `real` may not be a source of an action, if it may not. */
export function sourceRefusal(real: string, f: Forbidden): string | undefined {
  if (!within(real, f.realRoot)) return `it resolves to ${real}, outside the workspace`;
  const vcs = vcsDirOf(real.slice(f.realRoot.length + 1));
  if (vcs)
    return `it resolves to ${real}, inside ${vcs}/: version-control metadata is never a source (it holds credentials, such as a CI checkout's token)`;
  const hidden = f.hidden.find((h) => within(real, h));
  if (hidden) return `it resolves to ${real}, in ${hidden}: hb's own state and keys are never sources`;
  return undefined;
}

/** Why a toolchain at real path `real` may not be bound into a sandbox, if it may not. */
export function toolchainRefusal(real: string, isDirectory: boolean, f: Forbidden): string | undefined {
  const vcs = vcsDirOf(real);
  if (vcs) return `it resolves to ${real}, inside ${vcs}/: version-control metadata holds credentials`;
  const home = homedir();
  const store = CREDENTIAL_STORES.map((c) => `${home}/${c}`).find((c) => within(real, c) || (isDirectory && within(c, real)));
  if (store) return `it ${within(real, store) ? "lies in" : "holds"} ${store}, where credentials are kept`;
  for (const h of f.hidden)
    if (within(real, h) || (isDirectory && within(h, real)))
      return `it ${within(real, h) ? "lies in" : "holds"} ${h}: hb's own state and keys`;
  if (isDirectory && (within(f.realRoot, real) || within(home, real))) {
    return `it is ${real}, which holds ${within(f.realRoot, real) ? "the workspace (and its .git/)" : "the home directory"}: pin the program, or the directory it needs, instead`;
  }
  return undefined;
}
