import { type Stats, lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join, posix } from "node:path";
import type { OutputFile } from "../base/action-result";
import { digestOfFile } from "../base/digest";
import { HbError } from "../base/errors";
import type { ActionSpec, ExecPath } from "../base/graph";
import { describeCommand } from "../api/shell";
import type { LocalCas } from "../caching/local-cas";
import { symlinkEntry } from "../base/action-result";

/**
 * Takes an action's declared outputs from its outputs directory into the CAS: each must exist
 * and be a regular file (or a directory, if declared so); inside a declared directory, a
 * relative symlink that stays in it is kept (node_modules/.bin). Undeclared files are dropped.
 */
export function collectOutputs(a: ActionSpec, outDir: string, writableAt: ExecPath, cas: LocalCas, epoch: number): OutputFile[] {
  const files: OutputFile[] = [];
  const take = (execPath: string, abs: string, st: Stats) => {
    const digest = digestOfFile(abs);
    const executable = (st.mode & 0o100) !== 0;
    cas.adopt(abs, digest, epoch);
    files.push({ path: execPath, hash: digest.hash, size: digest.size, executable });
  };
  const lstatOrFail = (execPath: string, abs: string, what: string): Stats => {
    try {
      return lstatSync(abs);
    } catch {
      throw HbError.of(
        "MISSING_OUTPUT",
        `${a.owner}: the command did not create its declared ${what} ${execPath}`,
        { label: a.owner, path: execPath, command: describeCommand(a) },
        { hint: "make the command write every declared output (paths relative to the execroot; see $(OUTS) / $(RULEDIR))" },
      );
    }
  };
  const regular = (execPath: string, st: Stats): Stats => {
    if (st.isSymbolicLink()) {
      throw new HbError(
        "BAD_OUTPUT",
        `${a.owner}: output ${execPath} is a symlink; outputs must be regular files or directories inside the execroot`,
        {
          hint: "copy the file instead of linking it",
        },
      );
    }
    return st;
  };
  for (const o of a.outputs) {
    const abs = join(outDir, o.slice(writableAt.length + 1));
    const st = regular(o, lstatOrFail(o, abs, "output"));
    if (!st.isFile()) throw new HbError("BAD_OUTPUT", `${a.owner}: output ${o} was declared as a file but is not a regular file`);
    take(o, abs, st);
  }
  for (const d of a.outputDirs) {
    const absDir = join(outDir, d.slice(writableAt.length + 1));
    const st = regular(d, lstatOrFail(d, absDir, "output directory"));
    if (!st.isDirectory()) throw new HbError("BAD_OUTPUT", `${a.owner}: output ${d} was declared as a directory but is not one`);
    const walk = (absPath: string, execPath: string) => {
      for (const e of readdirSync(absPath, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
        const childAbs = join(absPath, e.name);
        const childExec = `${execPath}/${e.name}`;
        const lst = lstatSync(childAbs);
        if (lst.isSymbolicLink()) {
          const target = readlinkSync(childAbs);
          const landing = posix.normalize(posix.join(posix.dirname(childExec), target));
          if (target.startsWith("/") || !landing.startsWith(d + "/")) {
            throw new HbError("BAD_OUTPUT", `${a.owner}: ${childExec} is a symlink to ${target}, which leaves the output directory ${d}`);
          }
          files.push(symlinkEntry(childExec, target));
          continue;
        }
        if (lst.isDirectory()) walk(childAbs, childExec);
        else if (lst.isFile()) take(childExec, childAbs, lst);
      }
    };
    walk(absDir, d);
  }
  return files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
