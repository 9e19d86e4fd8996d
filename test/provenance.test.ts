import { execa } from "execa";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENRULE_COREUTILS } from "../packages/core/src/api/shell";
import { REPO, hb, makeWorkspace } from "./helpers";

const G = 'import { genrule } from "@hb/core";\n';
const BUILDER = "https://ci.example.com/hb/main";

/** A git checkout with one committed target and a key pair (ignored, as keys must be). */
async function repo(): Promise<{ ws: string; commit: string }> {
  const ws = makeWorkspace({
    ".gitignore": ".hb/\nhb-out/\n.hb-keys/\n",
    "x/BUILD.ts": G + 'genrule({ name: "pkg", srcs: ["in.txt"], outs: ["pkg.txt"], cmd: "tr a-z A-Z < $< > $@" });\n',
    "x/in.txt": "release me\n",
  });
  const git = (...args: string[]) => execa("git", ["-c", "user.email=t@example.invalid", "-c", "user.name=t", ...args], { cwd: ws });
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-qm", "release");
  expect((await hb(ws, ["keygen", "--out", ".hb-keys"])).exitCode).toBe(0);
  return { ws, commit: (await git("rev-parse", "HEAD")).stdout.trim() };
}

/** Replaces x/BUILD.ts and commits it, so the tree is clean for --provenance. */
async function commitBuild(ws: string, body: string): Promise<void> {
  writeFileSync(join(ws, "x/BUILD.ts"), G + body);
  await execa("git", ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qam", "BUILD.ts"], { cwd: ws });
}

const sign = (ws: string, extra: string[] = []) =>
  hb(ws, ["build", "//x:pkg", "--provenance", "--signing-key", ".hb-keys/private.pem", "--builder-id", BUILDER, ...extra]);

describe("hb build --provenance", () => {
  it("signs the outputs of a sandboxed build of a clean tree; hb attest verify accepts it", async () => {
    const { ws, commit } = await repo();
    const r = await sign(ws);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain("hb: provenance: hb-out/x/pkg.txt.intoto.jsonl");
    const v = await hb(ws, [
      "attest",
      "verify",
      "hb-out/x/pkg.txt",
      "--key",
      ".hb-keys/public.pem",
      "--builder-id",
      BUILDER,
      "--source-commit",
      commit,
    ]);
    expect(v.exitCode, v.output).toBe(0);
    const envelope = JSON.parse(readFileSync(join(ws, "hb-out/x/pkg.txt.intoto.jsonl"), "utf8"));
    const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString());
    const deps = statement.predicate.buildDefinition.resolvedDependencies;
    expect(deps).toContainEqual({ digest: { gitCommit: commit }, annotations: { hb_kind: "source-commit", hb_dirty: false } });
    expect(deps).toContainEqual(expect.objectContaining({ name: "x/in.txt", annotations: { hb_kind: "source" } }));
    expect(deps).toContainEqual(expect.objectContaining({ name: "/bin/bash", annotations: { hb_kind: "tool" } }));
    expect(statement.predicate.buildDefinition.internalParameters).toMatchObject({ sandbox: "default", sourceDateEpoch: 315532800 });
    // a tampered artifact no longer verifies
    writeFileSync(join(ws, "tampered.txt"), readFileSync(join(ws, "hb-out/x/pkg.txt"), "utf8") + "!");
    const t = await hb(ws, [
      "attest",
      "verify",
      "tampered.txt",
      "--attestation",
      "hb-out/x/pkg.txt.intoto.jsonl",
      "--key",
      ".hb-keys/public.pem",
    ]);
    expect(t.exitCode).toBe(1);
  });

  it("never counts hb's own .hb/ and hb-out/ as changes, in a repository whose .gitignore does not name them", async () => {
    const { ws } = await repo();
    writeFileSync(join(ws, ".gitignore"), ".hb-keys/\n");
    await execa("git", ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qam", "no hb lines"], { cwd: ws });
    // the first build leaves both directories behind; the second signs over them
    expect((await hb(ws, ["build", "//x:pkg"])).exitCode).toBe(0);
    expect((await execa("git", ["status", "--porcelain"], { cwd: ws })).stdout).toBe("?? .hb/\n?? hb-out/");
    const r = await sign(ws);
    expect(r.exitCode, r.output).toBe(0);
    const envelope = JSON.parse(readFileSync(join(ws, "hb-out/x/pkg.txt.intoto.jsonl"), "utf8"));
    const deps = JSON.parse(Buffer.from(envelope.payload, "base64").toString()).predicate.buildDefinition.resolvedDependencies;
    expect(deps[0].annotations).toEqual({ hb_kind: "source-commit", hb_dirty: false });
    // a change of the sources is still one
    writeFileSync(join(ws, "x/in.txt"), "changed, not committed\n");
    const dirty = await sign(ws);
    expect(dirty.exitCode).toBe(2);
    expect(dirty.stderr).toContain("--provenance needs a clean source tree; 1 file(s) differ from the commit: x/in.txt");
  });

  it("removes a stale <output>.intoto.jsonl when the output is rebuilt without --provenance, and keeps one that still fits", async () => {
    const { ws } = await repo();
    expect((await sign(ws)).exitCode).toBe(0);
    const attestation = join(ws, "hb-out/x/pkg.txt.intoto.jsonl");
    // the same bytes again: the attestation still vouches for them
    const same = await hb(ws, ["build", "//x:pkg"]);
    expect(same.exitCode, same.output).toBe(0);
    expect(existsSync(attestation)).toBe(true);
    rmSync(join(ws, "hb-out"), { recursive: true });
    expect((await sign(ws)).exitCode).toBe(0);
    writeFileSync(join(ws, "x/in.txt"), "changed, uncommitted\n");
    const rebuilt = await hb(ws, ["build", "//x:pkg"]);
    expect(rebuilt.exitCode, rebuilt.output).toBe(0);
    expect(readFileSync(join(ws, "hb-out/x/pkg.txt"), "utf8")).toBe("CHANGED, UNCOMMITTED\n");
    expect(existsSync(attestation)).toBe(false);
  });

  it("does not sign an unsandboxed build, nor a dirty tree without --allow-dirty (which it records)", async () => {
    const { ws } = await repo();
    const none = await sign(ws, ["--sandbox=none"]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain("--provenance needs a sandboxed build");
    writeFileSync(join(ws, "x/in.txt"), "changed, not committed\n");
    const dirty = await sign(ws);
    expect(dirty.exitCode).toBe(2);
    expect(dirty.stderr).toContain("--provenance needs a clean source tree; 1 file(s) differ from the commit: x/in.txt");
    const allowed = await sign(ws, ["--allow-dirty"]);
    expect(allowed.exitCode, allowed.output).toBe(0);
    const envelope = JSON.parse(readFileSync(join(ws, "hb-out/x/pkg.txt.intoto.jsonl"), "utf8"));
    const deps = JSON.parse(Buffer.from(envelope.payload, "base64").toString()).predicate.buildDefinition.resolvedDependencies;
    expect(deps[0].annotations).toEqual({ hb_kind: "source-commit", hb_dirty: true });
    const v = await hb(ws, [
      "attest",
      "verify",
      "hb-out/x/pkg.txt",
      "--key",
      ".hb-keys/public.pem",
      "--source-commit",
      deps[0].digest.gitCommit,
    ]);
    expect(v.exitCode).toBe(1);
    expect(v.stdout + v.stderr).toContain("dirty");
    // with no commit expected it is not a failure, but the skipped check still says so
    const unchecked = await hb(ws, ["attest", "verify", "hb-out/x/pkg.txt", "--key", ".hb-keys/public.pem"]);
    expect(unchecked.exitCode).toBe(0);
    expect(unchecked.stdout).toContain(
      `source commit "${deps[0].digest.gitCommit}" plus uncommitted changes (dirty working tree) (no expected commit given)`,
    );
  });

  it("records every action of the closure with its key and output digests, and an action run unsandboxed as such", async () => {
    const { ws } = await repo();
    await commitBuild(
      ws,
      'genrule({ name: "up", srcs: ["in.txt"], outs: ["up.txt"], cmd: "tr a-z A-Z < $< > $@" });\n' +
        'genrule({ name: "pkg", srcs: [":up"], outs: ["pkg.txt"], tags: ["no-sandbox"], cmd: "cp $< $@" });\n',
    );
    const r = await sign(ws, ["--allow-unsandboxed"]);
    expect(r.exitCode, r.output).toBe(0);
    const statement = JSON.parse(
      Buffer.from(JSON.parse(readFileSync(join(ws, "hb-out/x/pkg.txt.intoto.jsonl"), "utf8")).payload, "base64").toString(),
    );
    const digest = (p: string) =>
      createHash("sha256")
        .update(readFileSync(join(ws, p)))
        .digest("hex");
    const byproducts = statement.predicate.runDetails.byproducts;
    expect(byproducts.map((b: { name: string }) => b.name)).toEqual(["//x:up", "//x:pkg"]);
    expect(byproducts[0].annotations).toEqual({
      hb_kind: "action",
      hb_mnemonic: "Genrule",
      hb_action_key: expect.stringMatching(/^[0-9a-f]{64}$/),
      hb_sandbox: "default",
      hb_outputs: { "hb-out/x/up.txt": digest("hb-out/x/up.txt") },
    });
    expect(byproducts[1].annotations).toMatchObject({ hb_sandbox: "none", hb_outputs: { "hb-out/x/pkg.txt": digest("hb-out/x/pkg.txt") } });
  });

  it("keeps the signing key out of the BUILD.ts analyzer's view", async () => {
    const { ws } = await repo();
    await commitBuild(
      ws,
      'const p = (genrule as any).constructor("return process")();\n' +
        "let seen = 'nokey';\n" +
        "try { if (p.getBuiltinModule('fs').readFileSync(p.cwd() + '/.hb-keys/private.pem', 'utf8').includes('PRIVATE')) seen = 'key'; } catch {}\n" +
        'genrule({ name: "pkg", srcs: ["in.txt"], outs: [seen + ".txt"], cmd: "cp $< $@" });\n',
    );
    const r = await sign(ws);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).toContain("hb-out/x/nokey.txt.intoto.jsonl");
  });
});

describe("hb explain", () => {
  it("lists the real inputs of an output of examples/basic, its command, tools and builder", async () => {
    const ws = makeWorkspace();
    cpSync(join(REPO, "examples/basic"), join(ws, "examples/basic"), { recursive: true });
    expect((await hb(ws, ["build", "//examples/basic/app:bundle"])).exitCode).toBe(0);
    const t0 = Date.now();
    const r = await hb(ws, ["explain", "hb-out/examples/basic/app/bundle.txt"]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout).toContain("produced by //examples/basic/app:bundle (Genrule)");
    expect(r.stdout).toMatch(/examples\/basic\/app\/template\.txt {2}sha256 [0-9a-f]{64}/);
    expect(r.stdout).toContain("(generated by //examples/basic/greeting:greeting)");
    expect(r.stdout).toContain("(generated by //examples/basic/version:version)");
    expect(r.stdout).toMatch(/examples\/basic\/tools\/render\.sh {2}sha256 [0-9a-f]{64}/);
    expect(r.stdout).toContain("SOURCE_DATE_EPOCH=315532800");
    expect(r.stdout).toContain("no statement covers it");
    const json = JSON.parse((await hb(ws, ["explain", "--output", "json", "hb-out/examples/basic/app/bundle.txt"])).stdout);
    expect(json.producers[0].inputs.map((i: { path: string }) => i.path)).toEqual([
      "examples/basic/app/template.txt",
      "hb-out/examples/basic/greeting/greeting.txt",
      "hb-out/examples/basic/version/version.json",
      "examples/basic/tools/render.sh",
      "/bin/bash",
      // the toolchains it declares, then the coreutils every genrule has (issue 20)
      "/bin/sh",
      "/usr/bin/awk",
      ...GENRULE_COREUTILS,
    ]);
    const byDigest = await hb(ws, ["explain", json.sha256]);
    expect(byDigest.stdout).toContain("produced by //examples/basic/app:bundle");
  });
});
