import type { ActionInput } from "../../keying/action-keyer";
import { alwaysAllowed } from "./allowed";
import { absoluteTarget, readTraces } from "./strace";

/** What `--audit` saw an action do outside its declared inputs, outputs and toolchains. */
export interface ActionAudit {
  /** files opened or attempted (a failed open of a hidden path counts too) */
  reads: string[];
  /** AF_INET/AF_INET6 addresses connected to or attempted */
  connects: string[];
}

export interface AuditedAction {
  /** the execroot as the action saw it */
  execroot: string;
  files: readonly ActionInput[];
  /** host paths of its toolchains and what they load */
  toolchainFiles: readonly string[];
  /** directories declared whole (a pinned node_modules, a JDK): everything below them is declared */
  declaredDirs: readonly string[];
  /** where it may write and scratch: its outputs directory, TMPDIR, HOME */
  scratch: readonly string[];
}

/**
 * What every program does to find its way, which reads nothing undeclared: opening a directory
 * the execroot lies in (esbuild lists / and /hb), looking for a file that is not there inside the
 * execroot (the sandbox holds nothing undeclared, so the answer is the same on every machine), and
 * node's walk up the tree for package.json and node_modules that finds nothing.
 */
function findingItsWay(path: string, failed: boolean, execroot: string): boolean {
  const isAncestor = path === "/" || execroot.startsWith(path.endsWith("/") ? path : path + "/");
  if (isAncestor) return true;
  if (!failed) return false;
  if (path === execroot || path.startsWith(execroot + "/")) return true;
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const name = path.slice(path.lastIndexOf("/") + 1);
  const inAncestor = dir === "/" || execroot.startsWith(dir + "/");
  return inAncestor && (name === "package.json" || name === "node_modules");
}

/** Classifies what strace saw in `traceDir`: opens and connects outside the action's declarations. */
export function classifyTraces(a: AuditedAction, traceDir: string): ActionAudit {
  const files = new Set<string>(a.toolchainFiles);
  const dirs = new Set<string>([a.execroot]);
  for (const f of a.files) {
    const abs = `${a.execroot}/${f.path}`;
    files.add(abs);
    for (let i = abs.lastIndexOf("/"); i > a.execroot.length; i = abs.lastIndexOf("/", i - 1)) dirs.add(abs.slice(0, i));
  }
  const reads = new Set<string>();
  const connects = new Set<string>();
  for (const access of readTraces(traceDir)) {
    if (access.kind === "connect") {
      connects.add(access.target);
      continue;
    }
    const path = absoluteTarget(access, a.execroot);
    if (files.has(path) || dirs.has(path) || alwaysAllowed(path)) continue;
    if (a.scratch.some((d) => path === d || path.startsWith(d + "/"))) continue;
    if (a.declaredDirs.some((d) => path === d || path.startsWith(d + "/"))) continue;
    if (findingItsWay(path, access.failed, a.execroot)) continue;
    reads.add(path);
  }
  return { reads: [...reads].sort(), connects: [...connects].sort() };
}
