import { createHash } from "node:crypto";
import { type Stats, existsSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { KeyedFile } from "./action-key";
import type { ToolchainRef } from "../base/graph";
import { HbError } from "../base/errors";
import { digestOfFile } from "../base/digest";
import { SYSTEM_PATH } from "../base/action-env";
import { VCS_DIRS } from "../workspace/config";
import { type Forbidden, toolchainRefusal } from "../workspace/source-policy";
import type { StatCache } from "./stat-cache";

export interface ResolvedToolchain {
  ref: ToolchainRef;
  /** absolute host path of the program (or directory) */
  hostPath: string;
  /** a pinned directory (node_modules/typescript, a JDK): bound read-only whole, digested as a tree */
  isDirectory: boolean;
  keyed: KeyedFile;
  /** strict mode: host files bound read-only at their own path (the program and the shared libraries it loads) */
  mounts: string[];
  /** set when the program is missing or its digest is not the pinned one: actions using it fail with this */
  error?: HbError;
}

export const toolchainKey = (t: ToolchainRef) => `${t.path}\0${t.sha256}`;

/** What default mode already shows read-only. */
const SYSTEM_ROOTS = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"];

/**
 * A directory's digest: sha256 over its sorted entries, each file by its path, content digest and
 * executable bit, each symlink by its target. Files come from the stat cache, so an unchanged
 * tree costs a stat per file.
 */
export function treeDigest(dir: string, stats: StatCache): { digest: { hash: string; size: number }; stats: Stats } {
  const lines: string[] = [];
  let size = 0;
  const walk = (abs: string, rel: string) => {
    // a file or symlink added, removed or replaced below shows in its directory's times
    stats.saw(abs, statSync(abs));
    for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childAbs = join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      // bound whole into sandboxes: never with version-control metadata (credentials) inside
      if (VCS_DIRS.includes(e.name)) {
        throw new HbError("FORBIDDEN_INPUT", `the directory ${dir} holds ${childRel}/, version-control metadata, which no action may see`, {
          hint: "pin a directory without it, or the program alone",
        });
      }
      if (e.isSymbolicLink()) lines.push(`L ${childRel} ${readlinkSync(childAbs)}`);
      else if (e.isDirectory()) walk(childAbs, childRel);
      else if (e.isFile()) {
        const r = stats.digest(childAbs);
        size += r.digest.size;
        lines.push(`F ${childRel} ${r.digest.hash} ${(r.stats.mode & 0o111) !== 0 ? "x" : "-"}`);
      }
    }
  };
  walk(dir, "");
  return { digest: { hash: createHash("sha256").update(lines.join("\n")).digest("hex"), size }, stats: statSync(dir) };
}

function describe(t: ToolchainRef): string {
  return t.label ? `toolchain ${t.label}` : `${t.path} (an implicit toolchain: the action's program, or a genrule's shell or coreutils)`;
}

/** Shared libraries a dynamically linked program loads, with its loader, as glibc's ldd lists them. */
async function sharedLibraries(path: string): Promise<string[]> {
  const { execa } = await import("execa");
  const r = await execa("ldd", [path], { reject: false, env: { LC_ALL: "C" }, extendEnv: false });
  if (r.exitCode !== 0) return []; // "not a dynamic executable": static, or a script
  const libs: string[] = [];
  for (const line of String(r.stdout).split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/**
 * Checks every pinned program the actions use, once per build: it must exist and have its pinned
 * digest (an implicit one is pinned by the digest it has now). In strict mode, also what to bind.
 */
export async function resolveToolchains(
  refs: Iterable<ToolchainRef>,
  root: string,
  stats: StatCache,
  strict: boolean,
  forbidden: Forbidden,
): Promise<Map<string, ResolvedToolchain>> {
  const out = new Map<string, ResolvedToolchain>();
  const libs = new Map<string, Promise<string[]>>();
  // ldd runs for every program at once (a genrule alone has bash and its coreutils)
  const listing: Promise<void>[] = [];
  for (const ref of refs) {
    const key = toolchainKey(ref);
    if (out.has(key)) continue;
    const hostPath = ref.path.startsWith("/") ? ref.path : join(root, ref.path);
    const resolved: ResolvedToolchain = {
      ref,
      hostPath,
      isDirectory: false,
      keyed: { path: ref.path, hash: "", size: 0, executable: false },
      mounts: [],
    };
    out.set(key, resolved);
    let r;
    try {
      const isDirectory = statSync(hostPath).isDirectory();
      // decided on what it is now, whatever BUILD.ts said: a symlink may lead anywhere
      const refused = toolchainRefusal(realpathSync.native(hostPath), isDirectory, forbidden);
      if (refused) {
        resolved.error = new HbError("FORBIDDEN_INPUT", `${describe(ref)}: ${hostPath} cannot be shown to actions: ${refused}`);
        continue;
      }
      if (isDirectory) {
        resolved.isDirectory = true;
        r = treeDigest(hostPath, stats);
      } else r = stats.digest(hostPath);
    } catch (e) {
      if (e instanceof HbError) {
        resolved.error = new HbError(e.code, `${describe(ref)}: ${e.message}`, { hint: e.hint });
        continue;
      }
      resolved.error = new HbError("MISSING_INPUT", `${describe(ref)}: ${hostPath} does not exist on this machine`, {
        hint: ref.label ? "install it, or point the toolchain's path at where it is" : "install it, or use a declared toolchain",
      });
      continue;
    }
    resolved.keyed = { path: ref.path, hash: r.digest.hash, size: r.digest.size, executable: (r.stats.mode & 0o111) !== 0 };
    if (ref.sha256 && ref.sha256 !== r.digest.hash) {
      resolved.error = new HbError(
        "TOOLCHAIN_MISMATCH",
        `${describe(ref)} pins ${ref.path} at sha256 ${ref.sha256}, but the ${resolved.isDirectory ? "directory" : "file"} here has sha256 ${r.digest.hash}`,
        { hint: "if the new version is intended, update sha256 in its BUILD.ts; otherwise restore the pinned version" },
      );
      continue;
    }
    if (resolved.isDirectory) {
      // bound whole; a workspace-relative one is bound into the execroot by the sandbox
      if (ref.path.startsWith("/")) resolved.mounts = [ref.path];
    } else if (strict) {
      if (!libs.has(hostPath)) libs.set(hostPath, sharedLibraries(hostPath));
      listing.push(libs.get(hostPath)!.then((l) => void (resolved.mounts = [...(ref.path.startsWith("/") ? [ref.path] : []), ...l])));
    } else if (ref.path.startsWith("/") && !SYSTEM_ROOTS.some((d) => ref.path.startsWith(d))) {
      // default mode shows the system directories; a program elsewhere (/opt, a node install) is bound
      resolved.mounts = [ref.path];
    }
  }
  await Promise.all(listing);
  return out;
}

/**
 * The toolchains whose digest is not the one they were keyed by any more: a toolchain is read
 * live by the actions that use it (bound from the host or the workspace), so if it changed while
 * the build ran, their results may come from the new bytes under the old key.
 */
export function changedToolchains(toolchains: Iterable<ResolvedToolchain>, stats: StatCache): ResolvedToolchain[] {
  const changed: ResolvedToolchain[] = [];
  for (const t of toolchains) {
    if (t.error) continue;
    let now: string | undefined;
    try {
      now = (t.isDirectory ? treeDigest(t.hostPath, stats) : stats.digest(t.hostPath)).digest.hash;
    } catch {
      now = undefined;
    }
    if (now !== t.keyed.hash) changed.push(t);
  }
  return changed;
}

/** strace for `--audit`: found on the host, and in strict mode bound like a toolchain. */
export async function findStrace(stats: StatCache, strict: boolean, forbidden: Forbidden): Promise<ResolvedToolchain> {
  const path = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].find((p) => existsSync(p));
  if (!path) {
    throw new HbError("STRACE_MISSING", "hb build --audit runs every action under strace, which is not installed", {
      hint: "install it: apt-get install strace",
    });
  }
  const ref: ToolchainRef = { label: "", path, sha256: "" };
  const resolved = (await resolveToolchains([ref], "/", stats, strict, forbidden)).get(toolchainKey(ref))!;
  if (resolved.error) throw resolved.error;
  return resolved;
}

/**
 * In strict mode an undeclared program is simply not there; the shell says so in its own words.
 * Turn that into an error that names the program and how to declare it.
 */
export function undeclaredToolError(label: string, stderr: string, command: string): HbError | undefined {
  const missing =
    /^(?:\S+: )?(?:line \d+: )?([^\s:]+): command not found$/m.exec(stderr)?.[1] ??
    /: (\/[^\s:]+): bad interpreter/.exec(stderr)?.[1] ??
    /^(?:\S+: )?(?:line \d+: )?(\/[^\s:]+): No such file or directory$/m.exec(stderr)?.[1];
  if (!missing) return undefined;
  const name = missing.slice(missing.lastIndexOf("/") + 1);
  const hostPath = missing.startsWith("/")
    ? missing
    : SYSTEM_PATH.split(":")
        .map((d) => `${d}/${missing}`)
        .find((p) => existsSync(p));
  let declare = `install ${name}, then declare it: toolchain({ name: "${name}", path: "/path/to/${name}", sha256: "..." })`;
  if (hostPath && existsSync(hostPath)) {
    declare = `declare it in a BUILD.ts: toolchain({ name: "${name}", path: "${hostPath}", sha256: "${digestOfFile(hostPath).hash}" }), and list it in the genrule's tools`;
  }
  return HbError.of(
    "UNDECLARED_TOOL",
    `${label}: '${missing}' is not a declared toolchain: in --sandbox=strict only declared toolchains are visible`,
    { label, program: missing, command },
    { hint: declare },
  );
}
