import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace, summary } from "./helpers";

// The merged view (DESIGN.md, Sandbox): a package's generated files appear, inside the sandbox, at
// their package paths beside its sources as well as under hb-out/, so the paths real monorepos
// write (`../lib/dist/index.js`, workspace links, exports maps) resolve unchanged.

const G = 'import { genrule } from "@hb/core";\n';

function workspace(): string {
  return makeWorkspace({
    "lib/BUILD.ts":
      G +
      'genrule({ name: "lib", srcs: ["src/index.txt"], outs: ["dist/index.js", "version.txt"], ' +
      'cmd: "cp $< $(location dist/index.js); echo 1.2.3 > $(location version.txt)" });\n',
    "lib/src/index.txt": "export const lib = 1;\n",
    "app/BUILD.ts":
      G +
      // reads the library where its package would have built it, and writes its own outputs
      // where a tool run in the package directory writes them: dist/ and a file at the top
      'genrule({ name: "app", srcs: ["main.txt", "//lib"], outs: ["dist/out.txt", "top.txt"], ' +
      'cmd: "cd app && cat ../lib/dist/index.js ../lib/version.txt main.txt > dist/out.txt && ls ../lib/dist > top.txt && cd .. && cat hb-out/app/dist/out.txt >> $(location top.txt)" });\n' +
      'genrule({ name: "reader", srcs: [":app"], outs: ["seen.txt"], cmd: "cat app/dist/out.txt app/top.txt > $@" });\n',
    "app/main.txt": "main\n",
  });
}

describe("the merged view", () => {
  for (const mode of ["default", "none"]) {
    it(`shows generated inputs beside their package's sources and takes outputs written there (--sandbox=${mode})`, async () => {
      const ws = workspace();
      const r = await hb(ws, ["build", "//app:reader", `--sandbox=${mode}`]);
      expect(r.exitCode, r.output).toBe(0);
      expect(readFileSync(join(ws, "hb-out/app/dist/out.txt"), "utf8")).toBe("export const lib = 1;\n1.2.3\nmain\n");
      expect(readFileSync(join(ws, "hb-out/app/top.txt"), "utf8")).toBe("index.js\nexport const lib = 1;\n1.2.3\nmain\n");
      expect(readFileSync(join(ws, "hb-out/app/seen.txt"), "utf8")).toBe(
        "export const lib = 1;\n1.2.3\nmain\nindex.js\nexport const lib = 1;\n1.2.3\nmain\n",
      );
      // the source tree is never written: hb-out/ stays what the user sees
      expect(readdirSync(join(ws, "app")).sort()).toEqual(["BUILD.ts", "main.txt"]);
      expect(readdirSync(join(ws, "lib")).sort()).toEqual(["BUILD.ts", "src"]);
      const again = await hb(ws, ["build", "//app:reader", `--sandbox=${mode}`]);
      expect(summary(again).executed).toBe(0);
    });
  }

  it("refuses a source input lying where a generated file appears, naming both", async () => {
    const ws = makeWorkspace({
      "lib/BUILD.ts":
        'import { rule } from "@hb/core";\n' +
        "const gen = rule({ attrs: {}, impl(ctx) {\n" +
        '  const f = ctx.declareFile("dist/index.js");\n' +
        '  ctx.actions.run({ executable: "/bin/sh", arguments: ["-c", `echo built > ${f.path}`], outputs: [f] });\n' +
        "  return { files: [f] };\n} });\n" +
        'gen({ name: "lib" });\n',
      "lib/dist/index.js": "stale\n",
      "app/BUILD.ts":
        G + 'genrule({ name: "app", srcs: ["//lib", "//lib:dist/index.js"], outs: ["o.txt"], cmd: "cat lib/dist/index.js > $@" });\n',
    });
    const r = await hb(ws, ["build", "//app"]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stderr).toContain(
      "//app:app: lib/dist/index.js is an input, and the generated hb-out/lib/dist/index.js appears at lib/dist/index.js in the sandbox",
    );
    expect(r.stderr).toContain("take lib/dist/index.js out of the target's inputs");
    expect(existsSync(join(ws, "hb-out/app/o.txt"))).toBe(false);
  });

  it("lets a source input stand where a generated file of the same bytes appears (a toolchain in node_modules/ that npm_deps lays out too)", async () => {
    const files = (source: string) =>
      makeWorkspace({
        "lib/BUILD.ts":
          'import { rule } from "@hb/core";\n' +
          "const gen = rule({ attrs: {}, impl(ctx) {\n" +
          '  const f = ctx.declareFile("dist/index.js");\n' +
          '  ctx.actions.run({ executable: "/bin/sh", arguments: ["-c", `echo built > ${f.path}`], outputs: [f] });\n' +
          "  return { files: [f] };\n} });\n" +
          'gen({ name: "lib" });\n',
        "lib/dist/index.js": source,
        "app/BUILD.ts":
          G + 'genrule({ name: "app", srcs: ["//lib", "//lib:dist/index.js"], outs: ["o.txt"], cmd: "cat lib/dist/index.js > $@" });\n',
      });
    const same = files("built\n");
    const r = await hb(same, ["build", "//app"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(readFileSync(join(same, "hb-out/app/o.txt"), "utf8")).toBe("built\n");
    // one byte apart: refused as before
    const other = await hb(files("built!\n"), ["build", "//app"]);
    expect(other.exitCode, other.output).toBe(1);
    expect(other.stderr).toContain(
      "lib/dist/index.js is an input, and the generated hb-out/lib/dist/index.js appears at lib/dist/index.js",
    );
  });
});
