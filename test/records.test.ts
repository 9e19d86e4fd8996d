import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace, tempDir } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';

const records = (ws: string) =>
  readFileSync(join(ws, ".hb/records.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe("run records", () => {
  it("are appended by build, test, verify and explain, and --report writes the same record", async () => {
    const ws = makeWorkspace({
      "p/BUILD.ts": G + 'genrule({ name: "x", srcs: ["in.txt"], outs: ["x.txt"], cmd: "cat $< > $@" });\n',
      "p/in.txt": "hi\n",
    });
    expect((await hb(ws, ["build", "//p:x", "--report", "r.json"])).exitCode).toBe(0);
    const [first] = records(ws);
    expect(first).toEqual(JSON.parse(readFileSync(join(ws, "r.json"), "utf8")));
    expect(first).toMatchObject({
      schemaVersion: 1,
      command: "build",
      workspace: { commit: null, dirty: null },
      builderId: expect.stringMatching(/^urn:hb:builder:local:/),
      executed: 1,
      actionList: [
        { label: "//p:x", mnemonic: "Genrule", status: "executed", outputs: [{ path: "hb-out/p/x.txt", sha256: expect.any(String) }] },
      ],
    });
    // a no-op build looks at no action, and lists none (once the sources are past the racy-clean margin)
    const old = (Date.now() - 5000) / 1000;
    for (const f of ["p/in.txt", "p/BUILD.ts", "hb.config.ts"]) utimesSync(join(ws, f), old, old);
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    expect((await hb(ws, ["build", "//p:x"])).exitCode).toBe(0);
    expect(records(ws)[2]).toMatchObject({ command: "build", upToDate: true, actionList: [], cached: { local: 1 } });
    expect((await hb(ws, ["verify", "//p:x"])).exitCode).toBe(0);
    expect((await hb(ws, ["explain", "hb-out/p/x.txt"])).exitCode).toBe(0);
    const [, , , verify, explain] = records(ws);
    expect(verify).toMatchObject({ command: "verify", passRate: 1, targets: [{ label: "//p:x", status: "reproducible" }] });
    expect(explain).toMatchObject({ command: "explain", file: "hb-out/p/x.txt", producers: 1, provenance: 0, complete: false });
    expect(new Set(records(ws).map((r) => r.id)).size).toBe(5);
  });

  it("of hb attest verify go to the output base HB_OUTPUT_BASE names, rotated by hb.config.ts's limits, the artifact by its workspace path", async () => {
    const ws = makeWorkspace(
      { "p/BUILD.ts": G + 'genrule({ name: "x", outs: ["x.txt"], cmd: "echo 1 > $@" });\n' },
      "export default { records: { maxAgeDays: 1 } };\n",
    );
    const keys = tempDir();
    expect((await hb(keys, ["keygen", "--out", "k"])).exitCode).toBe(0);
    const base = join(tempDir(), "base");
    const env = { HB_OUTPUT_BASE: base };
    const built = await hb(ws, ["build", "//p:x", "--provenance", "--signing-key", join(keys, "k/private.pem"), "--allow-dirty"], env);
    expect(built.exitCode, built.output).toBe(0);
    // a record of ten days ago: within the default 180 days, past this workspace's 1
    const file = join(base, "records.jsonl");
    const old = {
      ...JSON.parse(readFileSync(file, "utf8").split("\n")[0]!),
      id: "old",
      startedAt: new Date(Date.now() - 10 * 86_400_000).toISOString(),
    };
    writeFileSync(file, `${JSON.stringify(old)}\n${readFileSync(file, "utf8")}`);
    mkdirSync(join(ws, "sub"));
    const verified = await hb(join(ws, "sub"), ["attest", "verify", "../hb-out/p/x.txt", "--key", join(keys, "k/public.pem")], env);
    expect(verified.exitCode, verified.output).toBe(0);
    const kept = readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(kept.map((r) => r.command)).toEqual(["build", "attest verify"]);
    expect(kept[1]).toMatchObject({ artifact: "../hb-out/p/x.txt", path: "hb-out/p/x.txt", ok: true });
  });
});
