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
  /** where it may write and scratch: its outputs directory, TMPDIR, HOME */
  scratch: readonly string[];
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
    const path = absoluteTarget(access.target, a.execroot);
    if (files.has(path) || dirs.has(path) || alwaysAllowed(path)) continue;
    if (a.scratch.some((d) => path === d || path.startsWith(d + "/"))) continue;
    reads.add(path);
  }
  return { reads: [...reads].sort(), connects: [...connects].sort() };
}
