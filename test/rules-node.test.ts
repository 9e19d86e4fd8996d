import { execa } from "execa";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startTestServer } from "../packages/cache-server/src/testing/server";
import { sha256Hex } from "../packages/core/src/base/digest";
import { REPO, hb, makeWorkspace, summary, tempDir } from "./helpers";

/** A workspace holding examples/ts-monorepo and the repository's //tools, using its node_modules. */
function monorepo(): string {
  const ws = makeWorkspace();
  cpSync(join(REPO, "examples/ts-monorepo"), join(ws, "examples/ts-monorepo"), { recursive: true });
  cpSync(join(REPO, "tools"), join(ws, "tools"), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
  return ws;
}

describe("rules-node on examples/ts-monorepo", () => {
  it("builds a bundle that runs, and hb run passes arguments and the exit code", async () => {
    const ws = monorepo();
    const b = await hb(ws, ["build", "//examples/ts-monorepo/..."]);
    expect(b.exitCode, b.output).toBe(0);
    const out = await execa("node", [join(ws, "hb-out/examples/ts-monorepo/cli/greet.mjs"), "--name", "Ada"], { reject: false });
    expect(out.stdout).toBe("Hello, Ada! (greet 1.0.0)");
    const map = JSON.parse(readFileSync(join(ws, "hb-out/examples/ts-monorepo/cli/greet.mjs.map"), "utf8"));
    // machine-independent source map: paths relative to the bundle, no absolute path
    expect(map.sources).toContain("../../../../examples/ts-monorepo/greet/src/greet.ts");
    expect(JSON.stringify(map.sources)).not.toContain(ws);
    const run = await hb(ws, ["run", "//examples/ts-monorepo/cli:greet", "--report", "run.json", "--", "--name", "Grace", "--shout"]);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toBe("HELLO, GRACE! (greet 1.0.0)");
    expect(JSON.parse(readFileSync(join(ws, "run.json"), "utf8"))).toMatchObject({
      failed: 0,
      targets: [{ label: "//examples/ts-monorepo/cli:greet" }],
    });
    const bad = await hb(ws, ["run", "//examples/ts-monorepo/cli:greet", "--", "--nme", "x"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("unknown argument '--nme'");
    const notExecutable = await hb(ws, ["run", "//examples/ts-monorepo/greet"]);
    expect(notExecutable.exitCode).toBe(2);
    expect(notExecutable.stderr).toContain("is not executable");
  });

  it("runs the tests and the type check in the sandbox; a passing test is cached, not re-run", async () => {
    const ws = monorepo();
    const first = await hb(ws, ["test", "//examples/ts-monorepo/..."]);
    expect(first.exitCode, first.output).toBe(0);
    expect(first.stderr).toMatch(/\/\/examples\/ts-monorepo\/greet:test\s+PASSED in \d+\.\d+ s/);
    expect(first.stderr).toMatch(/\/\/examples\/ts-monorepo\/greet:typecheck\s+PASSED/);
    expect(first.stderr).toContain("hb: 3 tests: 3 passed (0 cached), 0 failed");
    expect(readFileSync(join(ws, "hb-out/examples/ts-monorepo/greet/test.test.log"), "utf8")).toContain("# pass 3");
    const second = await hb(ws, ["test", "//examples/ts-monorepo/..."]);
    expect(second.exitCode).toBe(0);
    expect(summary(second).executed).toBe(0);
    expect(second.stderr).toMatch(/\/\/examples\/ts-monorepo\/cli:test\s+CACHED/);
    expect(second.stderr).toContain("3 passed (3 cached)");
  });

  it("hb test uploads to and reads from the team cache as hb build does: a test CI passed is CACHED for a developer", async () => {
    const server = await startTestServer({});
    try {
      const ci = monorepo();
      // outside the workspace, as the README keeps it
      const key = join(tempDir(), "ci-key");
      expect((await hb(ci, ["keygen", "--out", key])).exitCode).toBe(0);
      const test = ["test", "//examples/ts-monorepo/greet:test", "--remote-cache", server.url];
      const up = await hb(ci, [...test, "--remote-upload", "--signing-key", join(key, "private.pem")]);
      expect(up.exitCode, up.output).toBe(0);
      const dev = monorepo();
      const down = await hb(dev, [...test, "--trusted-key", join(key, "public.pem")]);
      expect(down.exitCode, down.output).toBe(0);
      expect(summary(down).executed).toBe(0);
      expect(down.stderr).toMatch(/\/\/examples\/ts-monorepo\/greet:test\s+CACHED/);
      expect(down.stderr).toMatch(/cached \(\d+ remote\)/);
    } finally {
      await server.stop();
    }
  });

  it("reports a failing test with its output, exit 3; a type error fails the check; no test matched is exit 4", async () => {
    const ws = monorepo();
    const test = join(ws, "examples/ts-monorepo/greet/src/greet.test.ts");
    writeFileSync(test, readFileSync(test, "utf8").replace('"Hello, Ada!"', '"Hallo, Ada!"'));
    const r = await hb(ws, ["test", "//examples/ts-monorepo/greet:test"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/\/\/examples\/ts-monorepo\/greet:test\s+FAILED/);
    expect(r.stderr).toContain("not ok 1 - greets by name");
    expect(r.stderr).toContain("Hallo, Ada!");
    const src = join(ws, "examples/ts-monorepo/greet/src/greet.ts");
    writeFileSync(src, readFileSync(src, "utf8").replace("const clean = name.trim();", "const clean: number = name.trim();"));
    const t = await hb(ws, ["test", "//examples/ts-monorepo/greet:typecheck"]);
    expect(t.exitCode).toBe(3);
    expect(t.stderr).toContain(
      "examples/ts-monorepo/greet/src/greet.ts(9,9): error TS2322: Type 'string' is not assignable to type 'number'.",
    );
    const none = await hb(ws, ["test", "//examples/ts-monorepo/greet:greet"]);
    expect(none.exitCode).toBe(4);
    expect(none.stderr).toContain("no test targets among");
  });

  it("kills a test past its timeout with every process it started, and reports it TIMEOUT", async () => {
    const ws = monorepo();
    const build = join(ws, "examples/ts-monorepo/greet/BUILD.ts");
    writeFileSync(build, readFileSync(build, "utf8") + 'node_test({ name: "hang", srcs: ["src/hang.test.ts"], timeout: 3 });\n');
    for (const [mode, mark] of [
      ["default", "4242.4201"],
      ["none", "4242.4202"],
    ]) {
      // a child the test leaves running, found by its argument once hb is done
      writeFileSync(
        join(ws, "examples/ts-monorepo/greet/src/hang.test.ts"),
        'import { test } from "node:test";\nimport { spawn } from "node:child_process";\n' +
          `test("hangs", async () => {\n  spawn("sleep", ["${mark}"], { stdio: "ignore" });\n  await new Promise(() => setInterval(() => {}, 1000));\n});\n`,
      );
      const started = Date.now();
      const r = await hb(ws, ["test", "//examples/ts-monorepo/greet:hang", `--sandbox=${mode}`]);
      expect(r.exitCode, r.output).toBe(3);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(r.stderr).toMatch(/\/\/examples\/ts-monorepo\/greet:hang\s+TIMEOUT in \d+\.\d+ s/);
      expect(r.stderr).toContain("NodeTest timed out after 3 s and was killed with its process group");
      const left = await execa("pgrep", ["-f", `sleep ${mark}`], { reject: false });
      expect(left.stdout, `--sandbox=${mode}`).toBe("");
    }
  });

  it("packs an npm tarball that is byte-identical across clean builds in different directories, and installs", async () => {
    const a = monorepo();
    const b = monorepo();
    for (const ws of [a, b]) expect((await hb(ws, ["build", "//examples/ts-monorepo/greet:package"])).exitCode).toBe(0);
    const tgzA = readFileSync(join(a, "hb-out/examples/ts-monorepo/greet/package.tgz"));
    const tgzB = readFileSync(join(b, "hb-out/examples/ts-monorepo/greet/package.tgz"));
    expect(sha256Hex(tgzA)).toBe(sha256Hex(tgzB));
    const listing = await execa("tar", ["tzvf", join(a, "hb-out/examples/ts-monorepo/greet/package.tgz")]);
    // sorted entries under package/, mode 0644, owners 0/0, dated SOURCE_DATE_EPOCH
    const entries = listing.stdout.split("\n").map((l) => l.replace(/\s+/g, " "));
    expect(entries).toHaveLength(3);
    expect(entries.map((e) => e.replace(/ \d+ /, " N "))).toEqual([
      "-rw-r--r-- 0/0 N 1980-01-01 00:00 package/greet.js",
      "-rw-r--r-- 0/0 N 1980-01-01 00:00 package/greet.js.map",
      "-rw-r--r-- 0/0 N 1980-01-01 00:00 package/package.json",
    ]);
    const app = tempDir();
    writeFileSync(join(app, "package.json"), '{ "name": "app", "version": "0.0.0", "type": "module" }\n');
    const install = await execa(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", join(a, "hb-out/examples/ts-monorepo/greet/package.tgz")],
      { cwd: app, reject: false },
    );
    expect(install.exitCode, install.stderr).toBe(0);
    const use = await execa(
      "node",
      ["--input-type=module", "-e", 'import { greet } from "@tsm/greet"; console.log(greet({ name: "npm" }));'],
      { cwd: app },
    );
    expect(use.stdout).toBe("Hello, npm!");
  });
});

describe("npm_package", () => {
  it("ships a directory output less what files leaves out, README and LICENSE, and turns workspace: ranges into the packed versions", async () => {
    const ws = makeWorkspace({
      "tools/BUILD.ts": 'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "node", path: "/usr/bin/node" });\n',
      "core/package.json": '{ "name": "@w/core", "version": "2.3.4" }',
      "core/BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "package", srcs: ["package.json"] });\n',
      "cli/package.json": JSON.stringify({
        name: "@w/cli",
        version: "1.0.0",
        main: "dist/index.js",
        bin: { w: "bin/w.js" },
        files: ["dist", "!dist/**/*.map", "types/*.d.ts"],
        dependencies: { "@w/core": "workspace:^", other: "workspace:@w/core@*", lodash: "^4.0.0" },
        peerDependencies: { "@w/core": "workspace:~" },
        devDependencies: { "@w/core": "workspace:*" },
      }),
      "cli/README.md": "# cli\n",
      "cli/LICENSE": "MIT\n",
      "cli/bin/w.js": "#!/usr/bin/env node\n",
      "cli/notes.txt": "not shipped\n",
      "cli/types/index.d.ts": "export {};\n",
      "cli/BUILD.ts":
        'import { rule } from "@hb/core";\nimport { npm_package } from "@hb/rules-node";\n' +
        // a directory output, as tsc's outDir is
        'const dist = rule({ kind: "dist", attrs: {}, impl(ctx) {\n' +
        '  const d = ctx.declareDirectory("dist");\n' +
        '  ctx.actions.run({ executable: "/bin/bash", arguments: ["-c", `mkdir -p ${d.path}/sub && echo a > ${d.path}/index.js && echo m > ${d.path}/index.js.map && echo b > ${d.path}/sub/b.js`], outputs: [d] });\n' +
        "  return { files: [d] };\n} });\n" +
        'dist({ name: "dist" });\n' +
        'npm_package({ name: "package", package_json: "package.json", srcs: ["README.md", "LICENSE", "bin/w.js", "notes.txt", "types/index.d.ts"], deps: [":dist"], packages: ["//core:package"] });\n',
    });
    const b = await hb(ws, ["build", "//cli:package"]);
    expect(b.exitCode, b.output).toBe(0);
    const tgz = join(ws, "hb-out/cli/package.tgz");
    const listing = await execa("tar", ["tzf", tgz]);
    expect(listing.stdout.split("\n")).toEqual([
      "package/LICENSE",
      "package/README.md",
      "package/bin/w.js",
      "package/dist/index.js",
      "package/dist/sub/b.js",
      "package/package.json",
      "package/types/index.d.ts",
    ]);
    const manifest = JSON.parse((await execa("tar", ["xzOf", tgz, "package/package.json"])).stdout);
    expect(manifest.dependencies).toEqual({ "@w/core": "^2.3.4", other: "npm:@w/core@2.3.4", lodash: "^4.0.0" });
    expect(manifest.peerDependencies).toEqual({ "@w/core": "~2.3.4" });
    expect(manifest.devDependencies).toEqual({ "@w/core": "2.3.4" });

    // a workspace: range with no package.json to take the version from fails, naming it
    writeFileSync(join(ws, "cli/BUILD.ts"), readFileSync(join(ws, "cli/BUILD.ts"), "utf8").replace(', packages: ["//core:package"]', ""));
    const missing = await hb(ws, ["build", "//cli:package"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(
      "//cli:package: dependencies.@w/core is workspace:^, and 'packages' lists no package.json of @w/core to take its version from",
    );
  });

  it("without a files field, leaves out what a .npmignore among its files says, as npm pack (apollo-server's, issue 19)", async () => {
    const ws = makeWorkspace({
      "tools/BUILD.ts": 'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "node", path: "/usr/bin/node" });\n',
      "server/package.json": '{ "name": "@w/server", "version": "1.0.0" }',
      // apollo-server's packages/server/.npmignore
      "server/.npmignore":
        "*\n# Include the package.json files that give us deep imports.\n!**/package.json\n!src/**/*\nsrc/**/__tests__/**\n" +
        "!dist/**/*\ndist/**/__tests__/**\ndist/**/*.tsbuildinfo\n!package.json\n!README.md\n",
      "server/README.md": "# server\n",
      "server/CHANGELOG.md": "left out\n",
      "server/jest.config.js": "left out\n",
      "server/errors/package.json": '{ "main": "../dist/errors.js" }',
      "server/src/index.ts": "export {};\n",
      "server/src/__tests__/a.test.ts": "left out\n",
      "server/dist/index.js": "shipped\n",
      "server/dist/x.tsbuildinfo": "left out\n",
      "server/BUILD.ts":
        'import { glob } from "@hb/core";\nimport { npm_package } from "@hb/rules-node";\n' +
        'npm_package({ name: "package", package_json: "package.json", srcs: [...glob(["**"], { exclude: ["BUILD.ts"] }), ".npmignore"] });\n',
    });
    const b = await hb(ws, ["build", "//server:package"]);
    expect(b.exitCode, b.output).toBe(0);
    const listing = await execa("tar", ["tzf", join(ws, "hb-out/server/package.tgz")]);
    expect(listing.stdout.split("\n")).toEqual([
      "package/README.md",
      "package/dist/index.js",
      "package/errors/package.json",
      "package/package.json",
      "package/src/index.ts",
    ]);
  });
});

describe("ts_project", () => {
  it("emits JavaScript (ESM or CJS) and declarations with tsc into its package's out_dir, following a project reference; a type error fails", async () => {
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "node", path: "/usr/bin/node" });\n' +
        `local_toolchain({ name: "typescript", path: "${REPO}/node_modules/typescript" });\n`,
      "tsconfig.base.json": JSON.stringify({
        compilerOptions: { target: "es2022", module: "nodenext", strict: true, declaration: true, types: [] },
      }),
      "BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "base", srcs: ["tsconfig.base.json"] });\n',
      "lib/tsconfig.json": JSON.stringify({
        extends: "../tsconfig.base.json",
        compilerOptions: { composite: true, rootDir: "src", outDir: "dist" },
        include: ["src"],
      }),
      "lib/src/index.ts": "export const greet = (name: string): string => `hello ${name}`;\n",
      "lib/BUILD.ts":
        'import { ts_project } from "@hb/rules-node";\nts_project({ name: "lib", srcs: ["src/index.ts"], deps: ["//:base"] });\n',
      "app/tsconfig.json": JSON.stringify({
        extends: "../tsconfig.base.json",
        compilerOptions: { rootDir: "src", outDir: "dist" },
        include: ["src"],
        references: [{ path: "../lib" }],
      }),
      // module nodenext: ESM where package.json says "type": "module" (app), CommonJS where nothing does (lib)
      "app/package.json": '{ "name": "app", "type": "module" }',
      "app/src/main.ts": 'import { greet } from "../../lib/src/index.js";\nexport const message: string = greet("app");\n',
      "app/BUILD.ts":
        'import { ts_project } from "@hb/rules-node";\nts_project({ name: "app", srcs: ["src/main.ts", "package.json"], deps: ["//:base", "//lib"] });\n',
    });
    const b = await hb(ws, ["build", "//app"]);
    expect(b.exitCode, b.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/lib/dist/index.d.ts"), "utf8")).toContain("export declare const greet: (name: string) => string;");
    expect(readFileSync(join(ws, "hb-out/lib/dist/index.js"), "utf8")).toContain("exports.greet = greet;");
    expect(readFileSync(join(ws, "hb-out/app/dist/main.js"), "utf8")).toContain('import { greet } from "../../lib/src/index.js";');
    expect(readFileSync(join(ws, "hb-out/app/dist/main.d.ts"), "utf8")).toContain("export declare const message: string;");
    expect(JSON.parse(readFileSync(join(ws, "hb-out/lib/lib.tsbuildinfo"), "utf8"))).toHaveProperty("version");
    // the source tree is not written
    expect(existsSync(join(ws, "lib/dist"))).toBe(false);

    writeFileSync(
      join(ws, "app/src/main.ts"),
      'import { greet } from "../../lib/src/index.js";\nexport const message: number = greet("app");\n',
    );
    const bad = await hb(ws, ["build", "//app"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("app/src/main.ts(2,14): error TS2322: Type 'string' is not assignable to type 'number'.");
  });
});

describe("ts_project references and bundles beside tsc (issue 19, apollo-server)", () => {
  it("gives tsc the projects a referenced project references in turn", async () => {
    const project = (refs: string[]) =>
      JSON.stringify({
        extends: "../tsconfig.base.json",
        compilerOptions: { composite: true, rootDir: "src", outDir: "dist" },
        include: ["src"],
        references: refs.map((path) => ({ path })),
      });
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "@hb/core";\nlocal_toolchain({ name: "node", path: "/usr/bin/node" });\n' +
        `local_toolchain({ name: "typescript", path: "${REPO}/node_modules/typescript" });\n`,
      "tsconfig.base.json": JSON.stringify({ compilerOptions: { target: "es2022", module: "nodenext", strict: true, types: [] } }),
      "BUILD.ts": 'import { filegroup } from "@hb/core";\nfilegroup({ name: "base", srcs: ["tsconfig.base.json"] });\n',
      "lib/tsconfig.json": project([]),
      "lib/src/index.ts": "export const greet = (name: string): string => `hello ${name}`;\n",
      "lib/BUILD.ts":
        'import { ts_project } from "@hb/rules-node";\nts_project({ name: "lib", srcs: ["src/index.ts"], deps: ["//:base"] });\n',
      "mid/tsconfig.json": project(["../lib"]),
      "mid/src/index.ts": 'import { greet } from "../../lib/src/index.js";\nexport const twice = (n: string): string => greet(greet(n));\n',
      "mid/BUILD.ts":
        'import { ts_project } from "@hb/rules-node";\nts_project({ name: "mid", srcs: ["src/index.ts"], deps: ["//:base", "//lib"] });\n',
      // app names mid alone; tsc opens mid's tsconfig, which references lib
      "app/tsconfig.json": project(["../mid"]),
      "app/src/main.ts": 'import { twice } from "../../mid/src/index.js";\nexport const message: string = twice("app");\n',
      "app/BUILD.ts":
        'import { ts_check, ts_project } from "@hb/rules-node";\n' +
        'ts_project({ name: "app", srcs: ["src/main.ts"], deps: ["//:base", "//mid"], out_package_type: "commonjs" });\n' +
        // a composite tsconfig with references, checked: no .tsbuildinfo written beside the sources
        'ts_check({ name: "typecheck", srcs: ["src/main.ts"], tsconfig: "tsconfig.json", deps: ["//:base", "//mid"] });\n' +
        'ts_project({ name: "bad", srcs: ["src/main.ts"], out_dir: "bad", out_package_type: "esm" });\n',
    });
    const b = await hb(ws, ["build", "//app"]);
    expect(b.exitCode, b.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/app/dist/main.d.ts"), "utf8")).toContain("export declare const message: string;");
    // what node must read dist/*.js as, beside them (a CJS build in a type: module package)
    expect(readFileSync(join(ws, "hb-out/app/dist/package.json"), "utf8")).toBe('{"type":"commonjs"}');
    const check = await hb(ws, ["test", "//app:typecheck"]);
    expect(check.exitCode, check.output).toBe(0);
    const bad = await hb(ws, ["build", "//app:bad"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`out_package_type of //app:bad must be "module" or "commonjs", not 'esm'`);
  });

  it("esbuild's packages: external leaves every package import to the runtime, an optional one not installed too, and still bundles a dep's module", async () => {
    const esbuildSha = /sha256: "([0-9a-f]{64})"/.exec(readFileSync(join(REPO, "tools/BUILD.ts"), "utf8"))![1]!;
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "hbuild";\nimport { esbuild_toolchain } from "hbuild/rules-node";\n' +
        `esbuild_toolchain({ name: "esbuild", path: "${realpathSync(join(REPO, "node_modules/@esbuild/linux-x64/bin/esbuild"))}", sha256: "${esbuildSha}" });\n` +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n',
      "util/src/index.ts": "export const shout = (s: string): string => s.toUpperCase();\n",
      "util/BUILD.ts":
        'import { esbuild } from "hbuild/rules-node";\nesbuild({ name: "util", srcs: ["src/index.ts"], entry: "src/index.ts", module_name: "@m/util" });\n',
      "lib/src/index.ts":
        'import { shout } from "@m/util";\nexport const hi = shout("hi");\nexport const optional = () => import("not-installed-anywhere");\n',
      "lib/BUILD.ts":
        'import { esbuild } from "hbuild/rules-node";\n' +
        'esbuild({ name: "bundled", srcs: ["src/index.ts"], entry: "src/index.ts", deps: ["//util"] });\n' +
        'esbuild({ name: "lib", srcs: ["src/index.ts"], entry: "src/index.ts", deps: ["//util"], packages: "external" });\n' +
        'esbuild({ name: "bad", srcs: ["src/index.ts"], entry: "src/index.ts", packages: "some" });\n',
    });
    const bundled = await hb(ws, ["build", "//lib:bundled"]);
    expect(bundled.exitCode).toBe(1);
    expect(bundled.stderr).toContain('Could not resolve "not-installed-anywhere"');
    const b = await hb(ws, ["build", "//lib:lib"]);
    expect(b.exitCode, b.output).toBe(0);
    const out = readFileSync(join(ws, "hb-out/lib/lib.mjs"), "utf8");
    expect(out).toContain('import("not-installed-anywhere")');
    expect(out).toContain("toUpperCase");
    const bad = await hb(ws, ["build", "//lib:bad"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`packages of //lib:bad must be "bundle" or "external", not 'some'`);
  });
});

/**
 * A directory where `npm install SPEC` put a package as a project installs it: from npm's cache
 * when it holds it, else from the registry (a clean CI machine's).
 */
async function npmInstall(spec: string): Promise<string> {
  const modules = tempDir();
  writeFileSync(join(modules, "package.json"), '{ "name": "installed-here", "private": true }\n');
  const install = await execa("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", spec], { cwd: modules, reject: false });
  expect(install.exitCode, install.stderr).toBe(0);
  return modules;
}

describe("node_test's jest runner (issue 19)", () => {
  it("runs the tests its config takes with the project's jest and config, snapshots and fixtures as data; a failure is exit 3 with jest's output", async () => {
    // jest as a project installs it: from npm's cache when it holds it, else from the registry
    const modules = await npmInstall("jest@30.0.5");
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "hbuild";\n' +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n' +
        'local_toolchain({ name: "node_modules", path: "node_modules" });\n' +
        // node_test's esbuild attribute names one whatever the runner
        `local_toolchain({ name: "esbuild", path: "${realpathSync(join(REPO, "node_modules/@esbuild/linux-x64/bin/esbuild"))}" });\n`,
      "app/BUILD.ts":
        'import { glob } from "hbuild";\nimport { node_test } from "hbuild/rules-node";\n' +
        'node_test({ name: "test", runner: "jest", srcs: glob(["src/__tests__/*.js"]), jest_config: "jest.config.js",\n' +
        '  data: ["src/sum.js", "src/__tests__/__snapshots__/sum.test.js.snap", "src/__tests__/fixtures/two.txt"] });\n',
      "app/jest.config.js": 'module.exports = { testEnvironment: "node", testRegex: "/__tests__/.*\\\\.test\\\\.js$" };\n',
      "app/src/sum.js": "exports.sum = (a, b) => a + b;\n",
      // a helper beside the tests, which the config's testRegex does not take
      "app/src/__tests__/helper.js":
        'exports.read = (f) => require("node:fs").readFileSync(require("node:path").join(__dirname, f), "utf8");\n',
      "app/src/__tests__/sum.test.js":
        'const { sum } = require("../sum");\nconst { read } = require("./helper");\n' +
        'test("adds", () => expect(sum(1, 2)).toBe(3));\n' +
        'test("reads its fixture", () => expect(sum(Number(read("fixtures/two.txt")), 1)).toBe(3));\n' +
        'test("matches its snapshot", () => expect({ total: sum(2, 2) }).toMatchSnapshot());\n',
      "app/src/__tests__/fixtures/two.txt": "2",
      "app/src/__tests__/__snapshots__/sum.test.js.snap":
        '// Jest Snapshot v1, https://goo.gl/fbAQLP\n\nexports[`matches its snapshot 1`] = `\n{\n  "total": 4,\n}\n`;\n',
    });
    symlinkSync(join(modules, "node_modules"), join(ws, "node_modules"));
    const ok = await hb(ws, ["test", "//app:test"]);
    expect(ok.exitCode, ok.output).toBe(0);
    expect(ok.stderr).toMatch(/\/\/app:test\s+PASSED/);
    expect(readFileSync(join(ws, "hb-out/app/test.test.log"), "utf8")).toMatch(/Tests:\s+3 passed, 3 total/);

    writeFileSync(join(ws, "app/src/sum.js"), "exports.sum = (a, b) => a - b;\n");
    const bad = await hb(ws, ["test", "//app:test"]);
    expect(bad.exitCode, bad.output).toBe(3);
    expect(bad.stderr).toMatch(/Tests:\s+3 failed, 3 total/);
    // the snapshot, read from its file, no longer matches
    expect(bad.stderr).toContain("matches its snapshot");
  }, 180_000);
});

describe("no check over nothing (issue 20)", () => {
  it("a root glob whose files all lie in subpackages, and a check or test over no file, are errors naming the BUILD.ts", async () => {
    const ws = monorepo();
    const root = (line: string) =>
      writeFileSync(
        join(ws, "BUILD.ts"),
        `import { glob, rule } from "@hb/core";\nimport { node_test, ts_check } from "@hb/rules-node";\n${line}\n`,
      );
    const tsconfig = 'tsconfig: "//examples/ts-monorepo:tsconfig.json"';
    // as an adopter's root check did: it passed over the root's own files, none of the packages'
    root(`ts_check({ name: "typecheck", srcs: glob(["examples/ts-monorepo/*/src/**/*.ts"]), ${tsconfig} });`);
    const crossing = await hb(ws, ["test", "//:typecheck"]);
    expect(crossing.exitCode, crossing.output).toBe(2);
    expect(crossing.stderr).toContain(
      'glob(["examples/ts-monorepo/*/src/**/*.ts"]) in // matched no file of its package: every file it reaches lies in a subpackage (//examples/ts-monorepo), and globs stop at package boundaries',
    );
    expect(crossing.stderr).toContain("ERROR: BUILD.ts:3:37: ");
    expect(crossing.stderr).toContain('in //examples/ts-monorepo/BUILD.ts used as "//examples/ts-monorepo:srcs"');

    root(`ts_check({ name: "typecheck", srcs: glob(["examples/ts-monorepo/*/src/**/*.ts"], { allowEmpty: true }), ${tsconfig} });`);
    const check = await hb(ws, ["test", "//:typecheck"]);
    expect(check.exitCode, check.output).toBe(2);
    expect(check.stderr).toContain("//:typecheck has no sources to check: its srcs are empty");

    root('node_test({ name: "test", srcs: [] });');
    const test = await hb(ws, ["test", "//:test"]);
    expect(test.exitCode, test.output).toBe(2);
    expect(test.stderr).toContain("//:test has no test files: its srcs are empty");

    // a team's own test rule: its action reads no file, so its pass would mean nothing
    root(
      'const always = rule({ kind: "always_test", test: true, attrs: {}, impl(ctx) {\n' +
        '  const log = ctx.declareFile(ctx.name + ".test.log");\n' +
        '  ctx.actions.run({ executable: "/bin/bash", arguments: ["-c", "echo pass > " + log.path], outputs: [log] });\n' +
        "  return { files: [], test: { log: log.path } };\n" +
        "} });\n" +
        'always({ name: "custom" });',
    );
    const custom = await hb(ws, ["test", "//:custom"]);
    expect(custom.exitCode, custom.output).toBe(2);
    expect(custom.stderr).toContain("always_test //:custom has no input files: it would pass without testing anything");
    expect(custom.stderr).toContain("ERROR: BUILD.ts:8:");
  });
});

describe("ts_check with TypeScript 7 (issue 20)", () => {
  it("checks with its native compiler once declared, and says how to declare it when not", async () => {
    // TypeScript 7 as `npm i -D typescript` installs it: the compiler is a platform package
    const modules = await npmInstall("typescript@7.0.2");
    const ws = makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "hbuild";\n' +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n' +
        'local_toolchain({ name: "typescript", path: "node_modules/typescript" });\n' +
        'local_toolchain({ name: "typescript_native", path: "node_modules/@typescript/typescript-linux-x64" });\n',
      "app/BUILD.ts":
        'import { glob } from "hbuild";\nimport { ts_check } from "hbuild/rules-node";\n' +
        'ts_check({ name: "bare", srcs: glob(["src/*.ts"]), tsconfig: "tsconfig.json" });\n' +
        'ts_check({ name: "typecheck", srcs: glob(["src/*.ts"]), tsconfig: "tsconfig.json", compiler: "//tools:typescript_native" });\n',
      "app/tsconfig.json":
        '{ "compilerOptions": { "strict": true, "noEmit": true, "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler", "types": [] }, "include": ["src"] }\n',
      "app/src/a.ts": 'export const n: number = "seven";\n',
    });
    symlinkSync(join(modules, "node_modules"), join(ws, "node_modules"));
    const bare = await hb(ws, ["test", "//app:bare"]);
    expect(bare.exitCode, bare.output).toBe(3);
    expect(bare.stderr).toContain(
      "hb: //app:bare runs TypeScript 7, whose compiler is the platform package beside it: declare it, local_toolchain({ name: 'typescript_native', path: 'node_modules/@typescript/typescript-linux-x64' }), and give it as compiler",
    );
    const failing = await hb(ws, ["test", "//app:typecheck"]);
    expect(failing.exitCode, failing.output).toBe(3);
    expect(failing.stderr).toContain("app/src/a.ts(1,14): error TS2322: Type 'string' is not assignable to type 'number'.");
    writeFileSync(join(ws, "app/src/a.ts"), "export const n: number = 7;\n");
    for (const mode of ["default", "strict"]) {
      const ok = await hb(ws, ["test", "//app:typecheck", `--sandbox=${mode}`]);
      expect(ok.exitCode, ok.output).toBe(0);
      expect(ok.stderr).toMatch(/\/\/app:typecheck\s+PASSED/);
    }
  });
});

describe("esbuild module formats (issue 20)", () => {
  /** A workspace with this repository's esbuild and the node toolchain, and `files`. */
  function formats(files: Record<string, string>): string {
    const esbuildSha = /sha256: "([0-9a-f]{64})"/.exec(readFileSync(join(REPO, "tools/BUILD.ts"), "utf8"))![1]!;
    return makeWorkspace({
      "tools/BUILD.ts":
        'import { local_toolchain } from "hbuild";\nimport { esbuild_toolchain } from "hbuild/rules-node";\n' +
        `esbuild_toolchain({ name: "esbuild", path: "${REPO}/node_modules/@esbuild/linux-x64/bin/esbuild", sha256: "${esbuildSha}" });\n` +
        'local_toolchain({ name: "node", path: "/usr/bin/node" });\n',
      ...files,
    });
  }
  const node = async (file: string) => (await execa("node", [file], { reject: false })).stdout;

  it("writes .mjs for ESM in a CommonJS package and .cjs for CJS in an ESM one, bundles several named entries, and transpiles with imports that resolve", async () => {
    const ws = formats({
      // no "type": node reads .js as CommonJS here
      "lib/package.json": '{ "name": "@f/lib", "version": "1.0.0" }',
      "lib/src/greet.mts": "export const greet = (name: string): string => `hello ${name}`;\n",
      "lib/src/index.mts": 'export { greet } from "./greet.mjs";\nexport const esm: string = typeof import.meta.url;\n',
      "lib/src/cli.mts": 'import { greet, esm } from "./index.mjs";\nconsole.log(greet("cli"), esm);\n',
      "lib/BUILD.ts":
        'import { glob } from "hbuild";\nimport { esbuild } from "hbuild/rules-node";\n' +
        'const srcs = glob(["src/*.mts"]);\n' +
        'esbuild({ name: "cli", srcs, entry: "src/cli.mts" });\n' +
        'esbuild({ name: "greet_cjs", srcs, entry: "src/greet.mts", format: "cjs" });\n' +
        'esbuild({ name: "bundles", srcs, entries: { "dist/cli": "src/cli.mts", "dist/index": "src/index.mts" }, module_name: "@f/lib" });\n' +
        'esbuild({ name: "js", srcs, entry: "src/cli.mts", out_extension: ".js", sourcemap: false });\n' +
        'esbuild({ name: "each", srcs });\n',
      "mod/package.json": '{ "name": "@f/mod", "type": "module" }',
      "mod/src/count.cts": "export const count = (xs: string[]): number => xs.length;\n",
      "mod/src/main.cts": 'import { count } from "./count.cjs";\nconsole.log(count(["a", "b"]), typeof module, typeof __filename);\n',
      // import.meta: a syntax error where node would read the file as CommonJS
      "mod/src/probe.mts": "console.log(typeof import.meta.url);\n",
      "mod/BUILD.ts":
        'import { genrule, glob } from "hbuild";\nimport { esbuild } from "hbuild/rules-node";\n' +
        'const srcs = glob(["src/*.cts"]);\n' +
        'esbuild({ name: "main", srcs, entry: "src/main.cts", format: "cjs" });\n' +
        'esbuild({ name: "main_esm", srcs: ["src/probe.mts"], entry: "src/probe.mts" });\n' +
        'esbuild({ name: "each", srcs, format: "cjs" });\n' +
        // run where node sees the package's type, beside its package.json (the merged view)
        'genrule({ name: "run", srcs: ["package.json", ":each", ":main_esm"], tools: ["//tools:node"], outs: ["run.txt"],\n' +
        '  cmd: "node mod/each/src/main.cjs > $@ && node mod/main_esm.js >> $@" });\n',
      // imports the library by its module_name: the entries' index bundle
      "app/main.ts": 'import { greet, esm } from "@f/lib";\nconsole.log(greet("app"), esm);\n',
      "app/BUILD.ts":
        'import { esbuild, node_binary } from "hbuild/rules-node";\n' +
        'node_binary({ name: "app", entry: "main.ts", srcs: ["main.ts"], deps: ["//lib:bundles"] });\n' +
        'esbuild({ name: "bundle", srcs: ["main.ts"], entry: "main.ts", deps: ["//lib:bundles"] });\n',
    });
    const b = await hb(ws, ["build", "//...", "--report", "report.json"]);
    expect(b.exitCode, b.output).toBe(0);
    const outputs = (label: string) => {
      const report = JSON.parse(readFileSync(join(ws, "report.json"), "utf8")) as {
        targets: { label: string; outputs: { path: string }[] }[];
      };
      return report.targets.find((t) => t.label === label)?.outputs.map((o) => o.path);
    };
    expect(outputs("//lib:cli")).toEqual(["hb-out/lib/cli.mjs", "hb-out/lib/cli.mjs.map"]);
    // CommonJS in a CommonJS package stays .js
    expect(outputs("//lib:greet_cjs")).toEqual(["hb-out/lib/greet_cjs.js", "hb-out/lib/greet_cjs.js.map"]);
    expect(outputs("//lib:bundles")).toEqual([
      "hb-out/lib/dist/cli.mjs",
      "hb-out/lib/dist/cli.mjs.map",
      "hb-out/lib/dist/index.mjs",
      "hb-out/lib/dist/index.mjs.map",
    ]);
    expect(outputs("//lib:js")).toEqual(["hb-out/lib/js.js"]);
    expect(outputs("//lib:each")).toEqual([
      "hb-out/lib/each/src/cli.mjs",
      "hb-out/lib/each/src/greet.mjs",
      "hb-out/lib/each/src/index.mjs",
    ]);
    expect(outputs("//mod:main")).toEqual(["hb-out/mod/main.cjs", "hb-out/mod/main.cjs.map"]);
    // ESM in an ESM package stays .js
    expect(outputs("//mod:main_esm")).toEqual(["hb-out/mod/main_esm.js", "hb-out/mod/main_esm.js.map"]);
    expect(outputs("//mod:each")).toEqual(["hb-out/mod/each/src/count.cjs", "hb-out/mod/each/src/main.cjs"]);
    expect(outputs("//app:bundle")).toEqual(["hb-out/app/bundle.mjs", "hb-out/app/bundle.mjs.map"]);

    // node reads each as the format it holds: ESM (import.meta) in .mjs, CommonJS (module) in .cjs
    expect(await node(join(ws, "hb-out/lib/cli.mjs"))).toBe("hello cli string");
    expect(await node(join(ws, "hb-out/lib/dist/cli.mjs"))).toBe("hello cli string");
    expect(await node(join(ws, "hb-out/mod/main.cjs"))).toBe("2 object string");
    // transpiled, each file imports the others by the names they are written to
    expect(await node(join(ws, "hb-out/lib/each/src/cli.mjs"))).toBe("hello cli string");
    expect(readFileSync(join(ws, "hb-out/lib/dist/index.mjs.map"), "utf8")).toContain('"../../../lib/src/greet.mts"');
    expect(readFileSync(join(ws, "hb-out/lib/dist/index.mjs"), "utf8")).toContain("//# sourceMappingURL=index.mjs.map");
    // in the ESM package: transpiled CJS as .cjs, and ESM as .js, which node reads so beside its package.json
    expect(readFileSync(join(ws, "hb-out/mod/run.txt"), "utf8")).toBe("2 object string\nstring\n");
    // a dependency's module_name is its index bundle
    expect(await node(join(ws, "hb-out/app/app.mjs"))).toBe("hello app string");
    expect(await node(join(ws, "hb-out/app/bundle.mjs"))).toBe("hello app string");

    // the extension follows the package.json: a type changed, or a nearer package.json added
    writeFileSync(join(ws, "lib/package.json"), '{ "name": "@f/lib", "version": "1.0.0", "type": "module" }');
    writeFileSync(join(ws, "app/package.json"), '{ "name": "app", "type": "module" }');
    const flipped = await hb(ws, ["build", "//lib:cli", "//lib:greet_cjs", "//app:bundle"]);
    expect(flipped.exitCode, flipped.output).toBe(0);
    expect(flipped.stderr).toContain("Target //lib:cli up to date:\n  hb-out/lib/cli.js\n");
    expect(flipped.stderr).toContain("Target //lib:greet_cjs up to date:\n  hb-out/lib/greet_cjs.cjs\n");
    expect(flipped.stderr).toContain("Target //app:bundle up to date:\n  hb-out/app/bundle.js\n");
  });

  it("names the target and what to write for attributes that cannot go together", async () => {
    const ws = formats({ "p/a.ts": "export const a = 1;\n" });
    const build = async (call: string) => {
      writeFileSync(join(ws, "p/BUILD.ts"), `import { esbuild } from "hbuild/rules-node";\n${call}\n`);
      const r = await hb(ws, ["build", "//p:x"]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.stderr).toContain("ERROR: p/BUILD.ts:2:1: ");
      return r.stderr;
    };
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entry: "a.ts", entries: { y: "a.ts" } });')).toContain(
      "esbuild //p:x has both entry and entries\n  hint: give one bundle as entry (named x), or every bundle as entries",
    );
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entries: { "dist/a.mjs": "a.ts" } });')).toContain(
      "entries key 'dist/a.mjs' of //p:x names an output with its extension\n  hint: write 'dist/a'",
    );
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entries: { a: "b.ts" } });')).toContain(
      "entries['a'] 'b.ts' of //p:x is not one of its srcs",
    );
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entry: "a.ts", out_extension: ".cjs" });')).toContain(
      "//p:x writes format esm to a .cjs file, which node would read as the other format",
    );
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entry: "a.ts", out_extension: "mjs" });')).toContain(
      "out_extension of //p:x must be .js, .mjs or .cjs, not 'mjs'",
    );
    expect(await build('esbuild({ name: "x", srcs: ["a.ts"], entry: "a.ts", format: "es" });')).toContain(
      "format of //p:x must be esm, cjs or iife, not 'es'",
    );
    // a package.json hb cannot take the type of, where a stored analysis read one: said as such, not a crash
    writeFileSync(
      join(ws, "p/BUILD.ts"),
      'import { esbuild } from "hbuild/rules-node";\nesbuild({ name: "x", srcs: ["a.ts"], entry: "a.ts" });\n',
    );
    writeFileSync(join(ws, "p/package.json"), '{ "type": "module" }');
    const ok = await hb(ws, ["build", "//p:x"]);
    expect(ok.exitCode, ok.output).toBe(0);
    rmSync(join(ws, "p/package.json"));
    mkdirSync(join(ws, "p/package.json"));
    const dir = await hb(ws, ["build", "//p:x"]);
    expect(dir.exitCode, dir.output).toBe(2);
    expect(dir.stderr).toContain("p/package.json is not a file");
  });
});
