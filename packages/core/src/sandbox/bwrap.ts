import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { HbError } from "../base/errors";
import { EXECROOT, SANDBOX_HOME, SANDBOX_HOSTNAME } from "../base/action-env";

/** The uid/gid actions run as inside the sandbox: not root, so nothing is owned by a privileged user. */
export const SANDBOX_UID = 65534;

let bwrapPath: string | undefined;

/** The bwrap executable, or a clear error saying how to install it. */
export function findBwrap(): string {
  if (bwrapPath) return bwrapPath;
  const chosen = process.env.HB_BWRAP;
  if (chosen) {
    if (existsSync(chosen)) return (bwrapPath = chosen);
    throw new HbError("BWRAP_MISSING", `HB_BWRAP is ${chosen}, which does not exist; hb runs every action in a bwrap sandbox`, {
      hint: "install bubblewrap (`apt-get install bubblewrap`) and unset HB_BWRAP, or point it at the bwrap binary",
    });
  }
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/bin", "/usr/local/bin"];
  for (const d of dirs) {
    if (d && existsSync(join(d, "bwrap"))) return (bwrapPath = join(d, "bwrap"));
  }
  throw new HbError("BWRAP_MISSING", "bubblewrap (bwrap) is not installed; hb runs every action in a bwrap sandbox", {
    hint: "install it: `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap` (Fedora); or opt out visibly with --sandbox=none",
  });
}

let topLevelArgs: string[] | undefined;

/** The top-level directories (or, usr-merged, links into /usr): links are recreated, directories bound read-only. */
function topLevel(): string[] {
  if (topLevelArgs) return topLevelArgs;
  const args: string[] = [];
  for (const d of ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    let st;
    try {
      st = lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(d), d);
    else if (st.isDirectory()) args.push("--ro-bind", d, d);
  }
  return (topLevelArgs = args);
}

/** Files every dynamically linked program reads: the loader's cache and the C.UTF-8 locale. */
const LOADER_AND_LOCALE = [
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/usr/lib/locale/C.utf8",
  "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache",
];

let systemBindArgs: string[] | undefined;

/**
 * Default mode: read-only views of the system directories (/usr and the top-level links or
 * directories that lead into it), plus the few /etc files every dynamically linked program reads.
 */
export function systemBinds(): string[] {
  if (systemBindArgs) return systemBindArgs;
  const args = [...topLevel()];
  for (const f of ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/os-release"]) {
    args.push("--ro-bind-try", f, f);
  }
  return (systemBindArgs = args);
}

/**
 * Strict mode: no system directory, only the top-level links (so /bin/bash resolves as on the
 * host), the loader's cache, the C.UTF-8 locale, and `files`: declared toolchains and the shared
 * libraries they load, each at its own path.
 */
export function strictBinds(files: readonly string[]): string[] {
  const args = topLevel().filter((_, i, all) => all[i - (i % 3)] === "--symlink");
  for (const f of LOADER_AND_LOCALE) args.push("--ro-bind-try", f, f);
  return [...args, ...bindPaths(files)];
}

/** Read-only binds of host files or directories, each at its own path, through their links. */
export function bindPaths(paths: readonly string[]): string[] {
  const args: string[] = [];
  const seen = new Set<string>();
  for (const f of [...new Set(paths)].sort()) args.push(...bindThroughLinks(f, seen));
  return args;
}

/**
 * Binds a file so that its own path resolves in the sandbox as on the host: directories by their
 * real path, and each symlink on the way recreated (/usr/bin/python3 -> python3.11,
 * /usr/lib64/ld-linux-x86-64.so.2 -> ../lib/..., /usr/bin/awk -> /etc/alternatives/awk -> ...).
 */
function bindThroughLinks(path: string, seen: Set<string>, depth = 0): string[] {
  let dir: string;
  try {
    dir = realpathSync(dirname(path));
  } catch {
    return [];
  }
  const at = join(dir, basename(path));
  if (seen.has(at) || depth > 16) return [];
  seen.add(at);
  let st;
  try {
    st = lstatSync(at);
  } catch {
    return [];
  }
  if (!st.isSymbolicLink()) return ["--ro-bind", at, at];
  const target = readlinkSync(at);
  return ["--symlink", target, at, ...bindThroughLinks(resolve(dir, target), seen, depth + 1)];
}

/**
 * The fixed /etc files every sandbox shows, so lookups inside give the same answer everywhere and
 * ordinary tests find what they assume: users and groups; `localhost` (and the sandbox's hostname)
 * resolving to the loopback the network namespace has, from files alone (no DNS to ask); and a git
 * identity as the system config, for tests that commit (a repository's or the user's own config
 * still overrides it). Ownership checks are off for git: every file an action sees belongs to
 * another uid than its own.
 */
const SANDBOX_ETC: Readonly<Record<string, string>> = {
  passwd: `root:x:0:0:root:/root:/bin/sh\nhb:x:${SANDBOX_UID}:${SANDBOX_UID}:hb:${SANDBOX_HOME}:/bin/sh\n`,
  group: `root:x:0:\nhb:x:${SANDBOX_UID}:\n`,
  hosts: `127.0.0.1\tlocalhost\n127.0.1.1\t${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
  "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
  gitconfig: "[user]\n\tname = hb\n\temail = hb@localhost\n[init]\n\tdefaultBranch = main\n[safe]\n\tdirectory = *\n",
};

/** Writes the fixed /etc files into `dir`, from which every sandbox binds them. */
export function writeSandboxEtc(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(SANDBOX_ETC)) writeFileSync(join(dir, name), content);
}

export interface BwrapSpec {
  /** host directory bound read-only at EXECROOT: the staged inputs */
  execroot: string;
  /** host directory bound writable at EXECROOT/<writableAt>: where outputs go */
  outDir: string;
  writableAt: string;
  env: Readonly<Record<string, string>>;
  /** the directory holding the fixed /etc files (writeSandboxEtc) */
  etcDir: string;
  network: boolean;
  /** mounts replacing the system view (strict mode); default: systemBinds() */
  systemMounts?: readonly string[];
}

/** bwrap's arguments (before `--` and the command) for one action. */
export function bwrapArgs(spec: BwrapSpec): string[] {
  const args = [
    "--unshare-all",
    ...(spec.network ? ["--share-net"] : []),
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_UID),
    "--hostname",
    SANDBOX_HOSTNAME,
    "--clearenv",
  ];
  for (const [k, v] of Object.entries(spec.env)) args.push("--setenv", k, v);
  // the fresh /tmp first: a toolchain bound below /tmp (a node unpacked there) must land on it, not under it
  args.push("--tmpfs", "/tmp");
  args.push(...(spec.systemMounts ?? systemBinds()));
  for (const name of Object.keys(SANDBOX_ETC)) args.push("--ro-bind", join(spec.etcDir, name), `/etc/${name}`);
  args.push(
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--dir",
    SANDBOX_HOME,
    "--ro-bind",
    spec.execroot,
    EXECROOT,
    "--bind",
    spec.outDir,
    `${EXECROOT}/${spec.writableAt}`,
    "--chdir",
    EXECROOT,
  );
  return args;
}
