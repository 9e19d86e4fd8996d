// The rules-node reference and the new-project page (issue 20): complete, and true as written.
import { readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import * as rulesNode from "../packages/rules-node/src/index";
import { REPO, hb, makeWorkspace } from "./helpers";

it("docs/rules-node.md documents every rules-node rule and each of its attributes, with its default", () => {
  const doc = readFileSync(join(REPO, "docs/rules-node.md"), "utf8");
  const sections = new Map(doc.split(/^## /m).map((s) => [s.slice(0, s.indexOf("\n")), s] as const));
  const rules = Object.entries(rulesNode).flatMap(([name, fn]) => ("definition" in fn ? [[name, fn.definition] as const] : []));
  expect(rules.map(([name]) => name).sort()).toEqual([
    "esbuild",
    "node_binary",
    "node_test",
    "npm_deps",
    "npm_package",
    "ts_check",
    "ts_project",
  ]);
  for (const [name, def] of rules) {
    const section = sections.get(name);
    expect(section, `a section for ${name}`).toBeDefined();
    const rows = section!.split("\n").filter((l) => l.startsWith("| `"));
    expect(
      rows.map((r) => /^\| `(\w+)`/.exec(r)![1]),
      name,
    ).toEqual(Object.keys(def.attrs));
    for (const [attr, spec] of Object.entries(def.attrs)) {
      const row = rows.find((r) => r.startsWith(`| \`${attr}\``))!;
      if (typeof spec.default === "string" || typeof spec.default === "boolean")
        expect(row, `${name}.${attr}'s default`).toContain(`\`${JSON.stringify(spec.default)}\``);
      expect(row.includes("mandatory"), `${name}.${attr} mandatory`).toBe(spec.mandatory);
    }
  }
  expect(sections.has("esbuild_toolchain")).toBe(true);
});

it("the README links the reference and the new-project page", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  expect(readme).toContain("(docs/rules-node.md)");
  expect(readme).toContain("(docs/new-project.md)");
});

it("the new-project page's BUILD.ts files build and test a project as written", async () => {
  const page = readFileSync(join(REPO, "docs/new-project.md"), "utf8");
  const block = (first: string) => {
    const b = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((c) => c.startsWith(first));
    expect(b, first).toBeDefined();
    return b!;
  };
  // the esbuild binary's digest, as this repository's //tools pins the same node_modules
  const sha = /sha256: "([0-9a-f]{64})"/.exec(readFileSync(join(REPO, "tools/BUILD.ts"), "utf8"))![1]!;
  const ws = makeWorkspace({
    "tools/BUILD.ts": block("// tools/BUILD.ts").replace("<sha256 of the binary>", sha),
    "app/BUILD.ts": block("// app/BUILD.ts"),
    "app/tsconfig.json": /```json\n([\s\S]*?)```/.exec(page)![1]!,
    "app/src/index.ts": "export const hello = (name: string): string => `hello, ${name}`;\n",
    "app/src/index.test.ts":
      'import assert from "node:assert/strict";\nimport { test } from "node:test";\nimport { hello } from "./index";\n\n' +
      'test("says hello", () => assert.equal(hello("hb"), "hello, hb"));\n',
  });
  symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
  const t = await hb(ws, ["test", "//..."]);
  expect(t.exitCode, t.output).toBe(0);
  expect(t.stderr).toMatch(/\/\/app:test\s+PASSED/);
  expect(t.stderr).toMatch(/\/\/app:typecheck\s+PASSED/);
  const b = await hb(ws, ["build", "//app:app"]);
  expect(b.exitCode, b.output).toBe(0);
  expect(b.stderr).toContain("Target //app:app up to date:\n  hb-out/app/app.mjs\n  hb-out/app/app.mjs.map");
});
