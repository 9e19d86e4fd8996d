import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../base/database";
import { findPackages, ignoreRules } from "../loading/package-tree";
import type { AnalysisInputs } from "../loading/records";
import { loadCachedAnalysis, storeAnalysis } from "./analysis-cache";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** what the analysis looked for and did not find: an output's path, the BUILD.ts below it, a source */
const ABSENT = ["c/dist/out.js", "c/dist/out.js/BUILD.ts", "c/dist/BUILD.ts", "a/src/gone.ts"];

/** A workspace with packages a/, a/b/, c/, a source directory in each, and its `//...` analysis stored. */
function recorded(): { root: string; db: Database } {
  const root = mkdtempSync(join(tmpdir(), "hb-acache-"));
  const out = mkdtempSync(join(tmpdir(), "hb-acache-base-"));
  dirs.push(root, out);
  for (const p of ["a", "a/b", "c"]) {
    mkdirSync(join(root, p, "src"), { recursive: true });
    writeFileSync(join(root, p, "BUILD.ts"), "");
    writeFileSync(join(root, p, "src", "m.ts"), "export {};\n");
  }
  const db = openDatabase(join(out, "hb.db"));
  const found = findPackages(root, "", ignoreRules());
  const inputs: AnalysisInputs = {
    files: [],
    absent: ABSENT,
    dirs: found.dirs,
    listings: [{ kind: "packages", base: "", result: found.packages }],
    // as if recorded a while ago: a directory changed since is seen as changed, not racily clean
    recordedAtMs: Date.now() - 60_000,
  };
  storeAnalysis(db, "req", inputs, { config: {}, graph: { actions: [], targets: [], requested: [] } as never });
  return { root, db };
}

const edits = {
  saveSource: (root: string) => {
    // an editor's atomic save: the directory's times move, its entries do not
    writeFileSync(join(root, "c/src/m.ts.tmp"), "export const x = 1;\n");
    renameSync(join(root, "c/src/m.ts.tmp"), join(root, "c/src/m.ts"));
  },
  addPackage: (root: string) => writeFileSync(join(root, "c/src/BUILD.ts"), ""),
  removePackage: (root: string) => rmSync(join(root, "a/b/BUILD.ts")),
  addNestedPackage: (root: string) => {
    mkdirSync(join(root, "c/new/deeper"), { recursive: true });
    writeFileSync(join(root, "c/new/deeper/BUILD.ts"), "");
  },
  addEmptyDir: (root: string) => mkdirSync(join(root, "a/src/empty")),
  removeDir: (root: string) => rmSync(join(root, "a/b"), { recursive: true }),
  renameDir: (root: string) => renameSync(join(root, "a/b"), join(root, "a/x")),
  addIgnored: (root: string) => mkdirSync(join(root, "c/node_modules/p"), { recursive: true }),
  addSourceFile: (root: string) => writeFileSync(join(root, "a/src/n.ts"), ""),
  addOutputsDir: (root: string) => mkdirSync(join(root, "c/dist")),
  addSourceAtOutput: (root: string) => {
    mkdirSync(join(root, "c/dist"));
    writeFileSync(join(root, "c/dist/out.js"), "");
  },
  addAbsentSource: (root: string) => writeFileSync(join(root, "a/src/gone.ts"), ""),
};

describe("the analysis cache's package discovery check", () => {
  it("holds after an atomic save or a new file, and not after a package, a directory or a file looked for came", async () => {
    for (const [name, edit] of Object.entries(edits)) {
      const { root, db } = recorded();
      edit(root);
      const hit = await loadCachedAnalysis(db, "req", root);
      const same = ["saveSource", "addSourceFile", "addIgnored"].includes(name);
      expect({ name, hit: hit !== undefined }).toEqual({ name, hit: same });
      db.close();
    }
  });

  it("answers from the cache only when a fresh discovery lists the same packages (any sequence of edits)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...Object.keys(edits)), { minLength: 1, maxLength: 4 }), async (names) => {
        const { root, db } = recorded();
        try {
          const before = findPackages(root, "", ignoreRules()).packages;
          for (const n of names) {
            try {
              edits[n as keyof typeof edits](root);
            } catch {
              // an edit whose directory an earlier one removed
            }
          }
          const hit = await loadCachedAnalysis(db, "req", root);
          if (hit) {
            expect(findPackages(root, "", ignoreRules()).packages).toEqual(before);
            expect(ABSENT.filter((p) => existsSync(join(root, p)))).toEqual([]);
          }
        } finally {
          db.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
