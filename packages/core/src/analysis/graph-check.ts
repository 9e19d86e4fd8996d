import { HbError } from "../base/errors";
import { type ActionGraph, type ActionSpec, OUT_DIR } from "../base/graph";
import { parseLabel } from "../base/label";
import { vcsDirOf } from "../workspace/config";

// The action graph comes from the sandboxed evaluator, which runs a pull request's code: what
// it asks to run is checked here, in hb's own process, before it is stored or executed. Its
// paths must be of the forms analysis makes; what they lead to is checked again where actions
// are staged (workspace/source-policy.ts).

const KINDS = new Set(["run", "write", "fetch", "npm_install"]);

/** a workspace-relative path with no empty, `.` or `..` segment */
function isClean(p: unknown): p is string {
  return (
    typeof p === "string" &&
    p !== "" &&
    !p.startsWith("/") &&
    p.split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\0"))
  );
}

function refuse(a: ActionSpec, what: string): never {
  throw new HbError("BUILD_FILE_ERROR", `the analysis asks ${String(a.owner)} to ${what}, which no BUILD.ts can declare: refused`, {
    hint: "a BUILD.ts escaping hb's API (node:vm) could make such a graph; look at the BUILD.ts files of this change",
  });
}

/** Refuses a graph hb's own analysis could not have made: paths out of place, VCS metadata, unknown kinds. */
export function checkGraph(graph: ActionGraph): void {
  for (const a of graph.actions) {
    if (!KINDS.has(a.kind)) refuse(a, `run an action of kind '${String(a.kind)}'`);
    let pkg: string;
    try {
      pkg = parseLabel(String(a.owner)).pkg;
    } catch {
      refuse(a, "act for an owner that is not a label");
    }
    const outRoot = pkg === "" ? `${OUT_DIR}/` : `${OUT_DIR}/${pkg}/`;
    for (const o of [...a.outputs, ...a.outputDirs]) {
      if (!isClean(o) || !o.startsWith(outRoot) || vcsDirOf(o)) refuse(a, `write ${JSON.stringify(o)}, outside ${outRoot}`);
    }
    for (const p of [...a.inputs, ...a.tools]) {
      if (!isClean(p)) refuse(a, `read ${JSON.stringify(p)}, which is not a path in the workspace`);
      if (vcsDirOf(p)) refuse(a, `read ${p}, version-control metadata`);
    }
    for (const t of a.toolchains) {
      const path = String(t.path);
      const clean = path.startsWith("/") ? isClean(path.slice(1)) || path === "/" : isClean(path);
      if (!clean || vcsDirOf(path)) refuse(a, `use the toolchain ${JSON.stringify(path)}`);
    }
    if (a.kind === "run" && (!Array.isArray(a.argv) || !a.argv.every((x) => typeof x === "string")))
      refuse(a, "run a command that is not a list of strings");
    if (a.kind === "npm_install" && (typeof a.importer !== "string" || (a.importer !== "" && !isClean(a.importer))))
      refuse(a, `lay out node_modules for ${JSON.stringify(a.importer)}`);
    if (a.kind === "run" && a.timeout !== undefined && !(Number.isInteger(a.timeout) && a.timeout > 0))
      refuse(a, `have a time limit of ${JSON.stringify(a.timeout)} seconds`);
  }
}
