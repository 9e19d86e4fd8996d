// The installable package (issue 19): what `npm run pack` writes installs into an empty project
// with `npm i -D ./file.tgz` and works there with no hb repository around: `npx hb` builds, BUILD.ts
// files import `hbuild` (and the old `@hb/core` names still evaluate), and they type-check with
// tsc under Node's own module resolution.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO, tempDir, writeFiles } from "./helpers";

let project = "";
let tarball = "";

beforeAll(async () => {
  const out = tempDir();
  await execa(process.execPath, [join(REPO, "scripts/pack.mjs"), "--out", out]);
  const tgz = readdirSync(out).filter((f) => f.endsWith(".tgz"));
  expect(tgz).toEqual([expect.stringMatching(/^hbuild-\d+\.\d+\.\d+\.tgz$/)]);
  tarball = join(out, tgz[0]!);

  project = tempDir();
  writeFiles(project, { "package.json": JSON.stringify({ name: "adopter", private: true, type: "module" }) });
  await execa("git", ["init", "-q"], { cwd: project });
  // Install scripts are skipped: better-sqlite3's would download a prebuilt binary from GitHub
  // or compile SQLite for minutes. The addon this repository built is the same version (the
  // package pins it exactly, which the assertion below checks) for the same Node.
  await execa("npm", ["i", "-D", tarball, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: project });
  const sqlite = "node_modules/better-sqlite3";
  const pinned = JSON.parse(readFileSync(join(project, "node_modules/hbuild/package.json"), "utf8")).dependencies["better-sqlite3"];
  expect(JSON.parse(readFileSync(join(REPO, sqlite, "package.json"), "utf8")).version).toBe(pinned);
  mkdirSync(join(project, sqlite, "build/Release"), { recursive: true });
  copyFileSync(join(REPO, sqlite, "build/Release/better_sqlite3.node"), join(project, sqlite, "build/Release/better_sqlite3.node"));
}, 180_000);

const npx = (args: string[]) =>
  execa("npx", args, {
    cwd: project,
    reject: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    extendEnv: false,
    stdin: "ignore",
  });

describe("the installable package", () => {
  it("pins the dependencies it leaves out of its bundle exactly", () => {
    const pkg = JSON.parse(readFileSync(join(project, "node_modules/hbuild/package.json"), "utf8"));
    expect(pkg.bin).toEqual({ hb: "bin/hb.js" });
    for (const version of Object.values(pkg.dependencies as Record<string, string>)) expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("builds a BUILD.ts that imports hbuild, and one that imports the old @hb/core name", async () => {
    writeFiles(project, {
      "hb.config.ts": 'import { defineConfig } from "hbuild";\nexport default defineConfig({});\n',
      "app/BUILD.ts": 'import { genrule } from "hbuild";\ngenrule({ name: "hello", outs: ["hello.txt"], cmd: "echo hello > $@" });\n',
      "old/BUILD.ts": 'import { genrule } from "@hb/core";\ngenrule({ name: "hi", outs: ["hi.txt"], cmd: "echo hi > $@" });\n',
    });
    const r = await npx(["hb", "build", "//app:hello", "//old:hi"]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(readFileSync(join(project, "hb-out/app/hello.txt"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(project, "hb-out/old/hi.txt"), "utf8")).toBe("hi\n");
  }, 120_000);

  it("gives BUILD.ts files types that tsc checks under nodenext resolution, and catches a wrong attribute", async () => {
    writeFiles(project, {
      "tsconfig.json": JSON.stringify({
        compilerOptions: { module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, skipLibCheck: false, types: [] },
        include: ["typed/BUILD.ts"],
      }),
      "typed/BUILD.ts":
        'import { genrule, glob, type File } from "hbuild";\nimport { esbuild, node_test } from "hbuild/rules-node";\n' +
        'genrule({ name: "g", srcs: glob(["*.txt"]), outs: ["o"], cmd: "cat $(SRCS) > $@" });\n' +
        'esbuild({ name: "b", srcs: ["a.ts"], entry: "a.ts" });\nvoid node_test;\nexport type F = File;\n',
    });
    const tsc = join(REPO, "node_modules/typescript/bin/tsc");
    const ok = await execa(process.execPath, [tsc, "-p", "."], { cwd: project, reject: false });
    expect(ok.exitCode, ok.stdout).toBe(0);

    writeFiles(project, { "typed/BUILD.ts": 'import { genrule } from "hbuild";\ngenrule({ name: "g", outs: ["o"], command: "x" });\n' });
    const bad = await execa(process.execPath, [tsc, "-p", "."], { cwd: project, reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toMatch(/typed\/BUILD\.ts.*'command' does not exist/);
  }, 120_000);
});
