// Hostile input through the real CLI: a BUILD.ts that never ends or eats memory is an analysis
// error naming it (exit 2), and inputs from fuzz-style generators (labels on the command line,
// hb.config.ts settings, attestation files, tokens files) give a clear error with exit 2 (1 for
// an attestation that does not verify), never a stack trace.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace, tempDir } from "./helpers";

const G = 'import { genrule, rule } from "@hb/core";\n';
const NO_STACK = /\n\s+at |internal error/;

describe("BUILD.ts evaluation limits (loading: { timeoutSeconds, memoryMiB })", () => {
  const config = (loading: string) => `import { defineConfig } from "@hb/core";\nexport default defineConfig({ loading: ${loading} });\n`;

  it("a BUILD.ts that loops forever is an analysis error naming it, exit 2", async () => {
    const ws = makeWorkspace(
      { "ok/BUILD.ts": G + 'genrule({ name: "ok", outs: ["o"], cmd: "echo > $@" });\n', "spin/BUILD.ts": G + "while (true) {}\n" },
      config("{ timeoutSeconds: 1 }"),
    );
    const t = Date.now();
    const r = await hb(ws, ["build", "//..."]);
    expect(r.exitCode, r.output).toBe(2);
    expect(r.stderr).toMatch(/^ERROR: spin\/BUILD\.ts: spin\/BUILD\.ts did not finish within 1 s: a loop that never ends\?/m);
    expect(r.stderr).toContain("raise loading.timeoutSeconds in hb.config.ts");
    expect(r.output).not.toMatch(NO_STACK);
    expect(Date.now() - t).toBeLessThan(15_000);
  });

  it("a BUILD.ts that eats memory is stopped at loading.memoryMiB, an analysis error naming it, exit 2", async () => {
    const ws = makeWorkspace(
      { "hog/BUILD.ts": "const hog: number[][] = [];\nfor (;;) hog.push(new Array(1000000).fill(1.5));\n" },
      config("{ memoryMiB: 128 }"),
    );
    const r = await hb(ws, ["build", "//..."]);
    expect(r.exitCode, r.output).toBe(2);
    expect(r.stderr).toMatch(
      /^ERROR: hog\/BUILD\.ts: analysis ran out of memory \(more than 128 MiB\), last running code from hog\/BUILD\.ts/m,
    );
    expect(r.output).not.toMatch(NO_STACK);
  });

  it("a rule implementation that loops forever is stopped too (hb hears nothing for longer than the limit)", async () => {
    const ws = makeWorkspace(
      {
        "r/BUILD.ts": G + 'const spin = rule({ kind: "spin", attrs: {}, impl() { for (;;) {} } });\nspin({ name: "r" });\n',
      },
      config("{ timeoutSeconds: 1 }"),
    );
    const r = await hb(ws, ["build", "//r"]);
    expect(r.exitCode, r.output).toBe(2);
    expect(r.stderr).toMatch(/^ERROR: r\/BUILD\.ts: analysis did not finish within 1 s, last running code from r\/BUILD\.ts/m);
    expect(r.output).not.toMatch(NO_STACK);
  }, 30_000);

  it("refuses limits out of range, saying which", async () => {
    const r = await hb(makeWorkspace({}, config("{ timeoutSeconds: 0, memoryMiB: 1 }")), ["build", "//..."]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/setting 'loading\.timeoutSeconds' in hb\.config\.ts must be a whole number of seconds from 1 to 3600/);
  });
});

describe("generated hostile input through the CLI", () => {
  const CASES = 6;

  it("labels and patterns on the command line: exit 2 with a clear error", async () => {
    const ws = makeWorkspace({ "a/BUILD.ts": G + 'genrule({ name: "a", outs: ["o"], cmd: "echo > $@" });\n' });
    const patterns = fc.sample(fc.string({ unit: fc.constantFrom(..."/:.@*%-\\ ab".split("")), minLength: 1, maxLength: 30 }), {
      numRuns: CASES,
      seed: 21,
    });
    for (const p of patterns.filter((x) => !x.startsWith("-"))) {
      const r = await hb(ws, ["build", p]);
      expect([0, 2], `${JSON.stringify(p)}:\n${r.output}`).toContain(r.exitCode);
      expect(r.output).not.toMatch(NO_STACK);
    }
  });

  it("hb.config.ts settings: exit 2 with a clear error, or a build", async () => {
    const values = fc.sample(
      fc.dictionary(
        fc.constantFrom("ignore", "sandbox", "npm", "remoteCache", "loading", "sourceDateEpoch", "nope"),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 3 },
      ),
      { numRuns: CASES, seed: 21 },
    );
    for (const v of values) {
      const ws = makeWorkspace(
        { "a/BUILD.ts": G + 'genrule({ name: "a", outs: ["o"], cmd: "echo > $@" });\n' },
        `export default ${JSON.stringify(v)};\n`,
      );
      const r = await hb(ws, ["build", "//a"]);
      expect([0, 2], `${JSON.stringify(v)}:\n${r.output}`).toContain(r.exitCode);
      expect(r.output).not.toMatch(NO_STACK);
    }
  });

  it("attestation files given to hb attest verify: exit 1 (does not verify) or 2 (unreadable), never a crash", async () => {
    const dir = tempDir();
    expect((await hb(dir, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    writeFileSync(join(dir, "artifact"), "bytes");
    const bundles = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      ),
      { numRuns: CASES, seed: 21 },
    );
    for (const b of bundles) {
      writeFileSync(join(dir, "artifact.intoto.jsonl"), b);
      const r = await hb(dir, ["attest", "verify", "artifact", "--key", "keys/public.pem"]);
      expect([1, 2], `${JSON.stringify(b)}:\n${r.output}`).toContain(r.exitCode);
      expect(r.output).not.toMatch(NO_STACK);
    }
  });

  it("tokens files given to hb cache serve: exit 2 with a clear error", async () => {
    const dir = tempDir();
    const files = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      ),
      {
        numRuns: CASES,
        seed: 21,
      },
    );
    for (const f of files) {
      writeFileSync(join(dir, "tokens.json"), f);
      const r = await hb(dir, ["cache", "serve", "--dir", join(dir, "cache"), "--port", "0", "--tokens", "tokens.json"]);
      expect(r.exitCode, `${JSON.stringify(f)}:\n${r.output}`).toBe(2);
      expect(r.stderr).toMatch(/^ERROR: .*tokens\.json: /m);
      expect(r.output).not.toMatch(NO_STACK);
    }
  });
});
