// hb keygen and hb attest verify, end to end through the built CLI.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attestationBundle, buildProvenanceStatement, generateKeyPair, loadPrivateKey, sha256Hex, writeKeyPair } from "@hb/core/engine";
import { describe, expect, it } from "vitest";
import { hb, tempDir } from "./helpers";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const BUILDER = "https://ci.example.com/hb-builder/v1";

/** A workspace-like directory with a key pair, an artifact and its attestation. */
async function attested(): Promise<string> {
  const dir = tempDir();
  expect((await hb(dir, ["keygen", "--out", ".hb-keys"])).exitCode).toBe(0);
  writeFileSync(join(dir, "pkg.tgz"), "package bytes");
  const statement = buildProvenanceStatement({
    subjects: [{ name: "hb-out/x/pkg.tgz", sha256: sha256Hex("package bytes") }],
    targets: ["//x:pkg"],
    configPath: "hb.config.ts",
    hbVersion: "0.1.0",
    sandbox: "default",
    sourceDateEpoch: 315532800,
    sourceCommit: { sha: COMMIT, dirty: false },
    sources: [],
    tools: [],
    lockfilePins: [],
    builderId: BUILDER,
    invocationId: "1",
    startedOn: new Date(0),
    finishedOn: new Date(1000),
  });
  writeFileSync(join(dir, "pkg.tgz.intoto.jsonl"), attestationBundle(statement, loadPrivateKey(join(dir, ".hb-keys/private.pem"))));
  return dir;
}

describe("hb keygen", () => {
  it("writes the key pair with the right modes, and refuses to overwrite it", async () => {
    const dir = tempDir();
    const first = await hb(dir, ["keygen", "--out", "keys"]);
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(/key id [0-9a-f]{64}/);
    expect(statSync(join(dir, "keys/private.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "keys/public.pem"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const again = await hb(dir, ["keygen", "--out", "keys"]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("already exists; hb does not overwrite a signing key");
    expect((await hb(dir, ["keygen", "--out", "keys", "--force"])).exitCode).toBe(0);
    expect((await hb(dir, ["keygen"])).exitCode).toBe(2);
  });
});

describe("hb attest verify", () => {
  it("passes every check of a genuine attestation", async () => {
    const dir = await attested();
    const r = await hb(dir, [
      "attest",
      "verify",
      "pkg.tgz",
      "--key",
      ".hb-keys/public.pem",
      "--builder-id",
      BUILDER,
      "--source-commit",
      COMMIT,
    ]);
    expect(r.exitCode).toBe(0);
    for (const check of ["signature", "payload-type", "format", "subject", "builder", "source-commit"]) {
      expect(r.stdout).toMatch(new RegExp(`PASS  ${check} `));
    }
    expect(r.stdout).toContain("hb: VERIFIED");
  });

  it("names the failed check and exits 1: a changed artifact, a wrong key, another builder", async () => {
    const dir = await attested();
    const wrongKey = writeKeyPair(join(dir, "other"), generateKeyPair()).publicKeyPath;
    const runs = {
      signature: await hb(dir, ["attest", "verify", "pkg.tgz", "--key", wrongKey]),
      builder: await hb(dir, ["attest", "verify", "pkg.tgz", "--key", ".hb-keys/public.pem", "--builder-id", "https://other.example.com"]),
    };
    writeFileSync(join(dir, "pkg.tgz"), "package bytez");
    const subject = await hb(dir, ["attest", "verify", "pkg.tgz", "--attestation", "pkg.tgz.intoto.jsonl", "--key", ".hb-keys/public.pem"]);
    for (const [check, r] of Object.entries({ ...runs, subject })) {
      expect(r.exitCode, check).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`FAIL  ${check} `));
      expect(r.stdout).toContain(`hb: NOT VERIFIED: the ${check} check failed`);
    }
    expect(subject.stdout).toMatch(/----  builder\s+not checked/);
  });

  it("exits 2 for bad usage, a missing key or a missing attestation", async () => {
    const dir = await attested();
    const cases = [
      [["attest"], "needs a subcommand"],
      [["attest", "verfy", "pkg.tgz"], "did you mean 'hb attest verify'?"],
      [["attest", "verify", "pkg.tgz"], "needs --key PEM"],
      [["attest", "verify", "pkg.tgz", "--key", "nope.pem"], "cannot read public key"],
      [["attest", "verify", "pkg.tgz", "--key", ".hb-keys/private.pem"], "holds a private key where a public key is needed"],
      [["attest", "verify", "pkg.tgz", "--key", ".hb-keys/public.pem", "--attestation", "nope.jsonl"], "cannot read attestation"],
      [["attest", "verify", "pkg.tgz", "--key", ".hb-keys/public.pem", "--source-commit", "0123456"], "not a full commit id"],
    ] as const;
    for (const [args, message] of cases) {
      const r = await hb(dir, [...args]);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});
