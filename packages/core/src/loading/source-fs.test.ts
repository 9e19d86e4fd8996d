import { describe, expect, it } from "vitest";
import { globPackage } from "./glob";
import { ignoreRules } from "./package-tree";
import { SnapshotFs } from "./source-fs";

// A workspace that exists only as a snapshot: nothing here is on disk, as in the sandboxed evaluator.
const ROOT = "/nonexistent/hb-snapshot-ws";

function snapshotFs(): SnapshotFs {
  const fs = new SnapshotFs(ROOT, `/real${ROOT}`);
  fs.add({
    dirs: {
      a: [
        ["BUILD.ts", "f"],
        ["dir", "d"],
        ["link.txt", "l"],
        ["loop", "l"],
        ["m", "d"],
        ["node_modules", "d"],
        ["out.txt", "l"],
        ["sub", "d"],
        ["two.txt", "f"],
      ],
      "a/m": [
        ["one.txt", "f"],
        [".hidden.txt", "f"],
      ],
      "a/sub": [["BUILD.ts", "f"]],
    },
    links: {
      "a/link.txt": ["f", `/real${ROOT}/a/two.txt`],
      "a/loop": ["", ""],
      "a/out.txt": ["f", "/etc/passwd"],
      "a/dir": ["d", `/real${ROOT}/a/m`],
    },
  });
  return fs;
}

describe("SnapshotFs", () => {
  it("answers what node:fs would from names and kinds alone", () => {
    const fs = snapshotFs();
    expect(fs.existsSync(`${ROOT}/a/m/one.txt`)).toBe(true);
    expect(fs.existsSync(`${ROOT}/a/m/nothing.txt`)).toBe(false);
    expect(fs.existsSync(`${ROOT}/a/loop`)).toBe(false);
    expect(fs.lstatSync(`${ROOT}/a/loop`)!.isSymbolicLink()).toBe(true);
    expect(fs.statSync(`${ROOT}/a/link.txt`)!.isFile()).toBe(true);
    expect(fs.statSync(`${ROOT}/b`, { throwIfNoEntry: false })).toBeUndefined();
    expect(() => fs.statSync(`${ROOT}/b`)).toThrow(/ENOENT/);
    expect(fs.realpathSync(`${ROOT}/a/m`)).toBe(`/real${ROOT}/a/m`);
    expect(fs.realpathSync(`${ROOT}/a/out.txt`)).toBe("/etc/passwd");
    expect(fs.readdirSync(`${ROOT}/a/node_modules`)).toEqual([]);
    expect(fs.readdirSync(`${ROOT}/a/m`).map((d) => d.name)).toEqual(["one.txt", ".hidden.txt"]);
    expect(fs.existsSync("/etc/passwd")).toBe(false);
  });

  it("globs as fast-glob does on disk: no dot files, no subpackages, links to files kept, escaping ones refused", () => {
    const fs = snapshotFs();
    const rules = ignoreRules();
    expect(globPackage(fs, ROOT, "a", ["**/*.txt"], ["**/out.txt"], rules)).toEqual(["link.txt", "m/one.txt", "two.txt"]);
    expect(globPackage(fs, ROOT, "a", ["m/*"], [], rules)).toEqual(["m/one.txt"]);
    expect(globPackage(fs, ROOT, "a", ["**"], ["*.txt"], rules)).toEqual(["BUILD.ts", "m/one.txt"]);
    expect(() => globPackage(fs, ROOT, "a", ["*.txt"], [], rules)).toThrow(/out\.txt is a symlink to \/etc\/passwd, outside the workspace/);
    expect(() => globPackage(fs, ROOT, "a", [".git/**"], [], rules)).toThrow(/reaches into \.git\/, version-control metadata/);
  });
});
