// Eight hb builds at once against one real cache server, from eight workspaces (each its own
// output base): half share their sources and race to upload the same keys, half differ. All must
// build correctly; then eight fresh workspaces build everything from what was uploaded.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestServer } from "../packages/cache-server/src/testing/server";
import { hb, makeWorkspace, summary } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';
const BUILDS = 8;

function files(variant: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let p = 0; p < 4; p++) {
    let build = G;
    for (let r = 0; r < 5; r++) {
      const srcs = [`"s${r}.txt"`, ...(p > 0 ? [`"//p${p - 1}:r${r}"`] : [])];
      build += `genrule({ name: "r${r}", srcs: [${srcs.join(", ")}], outs: ["r${r}.out"], cmd: "cat $(SRCS) | sha256sum > $@; cat $(SRCS) >> $@" });\n`;
      out[`p${p}/s${r}.txt`] = `variant ${variant} ${p}/${r}\n`;
    }
    out[`p${p}/BUILD.ts`] = build;
  }
  return out;
}

/** What pP/rR.out must hold, computed the way its genrule makes it: sha256sum of its sources, then the sources. */
function expectedOutput(variant: number, p: number, r: number): string {
  const srcs = `variant ${variant} ${p}/${r}\n` + (p > 0 ? expectedOutput(variant, p - 1, r) : "");
  return `${createHash("sha256").update(srcs).digest("hex")}  -\n${srcs}`;
}

function outputsRight(ws: string, variant: number): boolean {
  for (let p = 0; p < 4; p++)
    for (let r = 0; r < 5; r++)
      if (readFileSync(join(ws, `hb-out/p${p}/r${r}.out`), "utf8") !== expectedOutput(variant, p, r)) return false;
  return true;
}

let stop: (() => Promise<void>) | undefined;
afterAll(async () => stop?.());

describe("8 hb builds at once against one cache server", () => {
  it("all build correctly, uploading, and then all build from the cache", async () => {
    const s = await startTestServer();
    stop = s.stop;
    const keysWs = makeWorkspace({});
    expect((await hb(keysWs, ["keygen", "--out", "keys"])).exitCode).toBe(0);
    const key = join(keysWs, "keys");
    const variantOf = (i: number) => (i % 2 === 0 ? 0 : i);
    const upload = await Promise.all(
      Array.from({ length: BUILDS }, async (_, i) => {
        const ws = makeWorkspace(files(variantOf(i)));
        const r = await hb(ws, [
          "build",
          "//...",
          "--jobs",
          "2",
          "--remote-cache",
          s.url,
          "--remote-upload",
          "--signing-key",
          join(key, "private.pem"),
        ]);
        return { ws, r, variant: variantOf(i) };
      }),
    );
    for (const { r } of upload) {
      expect(r.exitCode, r.output).toBe(0);
      expect(summary(r)).toMatchObject({ actions: 20, failed: 0 });
    }
    for (const { ws, variant } of upload) expect(outputsRight(ws, variant)).toBe(true);
    const fresh = await Promise.all(
      upload.map(async ({ variant }) => {
        const ws = makeWorkspace(files(variant));
        const r = await hb(ws, ["build", "//...", "--jobs", "2", "--remote-cache", s.url, "--trusted-key", join(key, "public.pem")]);
        return { ws, r, variant };
      }),
    );
    for (const { ws, r, variant } of fresh) {
      expect(r.exitCode, r.output).toBe(0);
      expect(summary(r)).toMatchObject({ actions: 20, executed: 0, cached: 20 });
      expect(r.stderr).not.toMatch(/refused an entry/);
      expect(outputsRight(ws, variant)).toBe(true);
    }
    expect(s.messages.filter((m) => /internal error/.test(m))).toEqual([]);
  }, 180_000);
});
