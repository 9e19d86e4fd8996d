// Verified reproducible releases (issue 15), end to end: two builder "machines" on one host, each
// its own clone of the workspace at its own path, with its own key, builder id, TZ, umask and
// output base, sharing nothing but the commit.
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HB, type HbRun, makeWorkspace, tempDir } from "./helpers";
import { verifyIndependently } from "./independent-verifier";

// an undeclared host file: /usr is visible to every sandboxed action outside strict mode, so an
// action reading it gets whatever the machine it runs on holds
const HOST_DIR = `/usr/local/share/hb-release-test-${process.pid}-${randomBytes(4).toString("hex")}`;
const HOST_FILE = `${HOST_DIR}/host.txt`;

const G = 'import { genrule } from "@hb/core";\n';
const BUILD = [
  G,
  'genrule({ name: "gen", srcs: ["in.txt"], outs: ["gen.txt"], cmd: "tr a-z A-Z < $< > $@" });',
  'genrule({ name: "pkg", srcs: [":gen"], outs: ["pkg.txt"], cmd: "(cat $<; echo packaged) > $@" });',
  `genrule({ name: "host", outs: ["host.txt"], cmd: "cat ${HOST_FILE} > $@" });`,
  'genrule({ name: "hostpkg", srcs: [":gen", ":host"], outs: ["hostpkg.txt"], cmd: "cat $(SRCS) > $@" });',
  'genrule({ name: "clock", outs: ["clock.txt"], cmd: "date +%N > $@" });',
  "",
].join("\n");

interface Machine {
  checkout: string;
  base: string;
  key: string;
  publicKey: string;
  builderId: string;
  tz: string;
  umask: string;
}

/** Runs hb as `m` would: in its checkout, with its TZ, umask and output base. */
async function on(m: Machine, args: string[]): Promise<HbRun> {
  const r = await execa("sh", ["-c", `umask ${m.umask} && exec "$0" "$@"`, process.execPath, HB, ...args], {
    cwd: m.checkout,
    reject: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: m.tz, HB_OUTPUT_BASE: m.base },
    extendEnv: false,
    stdin: "ignore",
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}\n${r.stderr}` };
}

const git = (cwd: string, ...args: string[]) => execa("git", ["-c", "user.email=t@example.invalid", "-c", "user.name=t", ...args], { cwd });

/** An Ed25519 key pair from hb keygen, outside every checkout. */
async function keyPair(): Promise<{ key: string; publicKey: string }> {
  const dir = join(tempDir(), "keys");
  const r = await execa(process.execPath, [HB, "keygen", "--out", dir], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  return { key: join(dir, "private.pem"), publicKey: join(dir, "public.pem") };
}

async function machine(origin: string, builderId: string, tz: string, umask: string, depth: string): Promise<Machine> {
  const home = tempDir();
  const checkout = join(home, depth, "checkout");
  mkdirSync(join(checkout, ".."), { recursive: true });
  await git(home, "clone", "-q", origin, checkout);
  return { checkout, base: join(home, "output-base"), ...(await keyPair()), builderId, tz, umask };
}

/** The parts of an hb statement these tests read. */
interface HbStatement {
  subject: { name: string; digest: { sha256: string } }[];
  predicate: {
    buildDefinition: { buildType: string; internalParameters: Record<string, unknown>; resolvedDependencies: unknown[] };
    runDetails: { builder: { id: string }; byproducts: { name: string }[] };
  };
}

let a: Machine;
let b: Machine;
let commit: string;
/** builder B's rebuild attestations of //x:pkg and //x:hostpkg */
let att: string;

beforeAll(async () => {
  const origin = makeWorkspace({ ".gitignore": ".hb/\nhb-out/\n", "x/BUILD.ts": BUILD, "x/in.txt": "release me\n" });
  await git(origin, "init", "-q");
  await git(origin, "add", "-A");
  await git(origin, "commit", "-qm", "release");
  commit = (await git(origin, "rev-parse", "HEAD")).stdout.trim();
  a = await machine(origin, "urn:hb:ci:main", "America/New_York", "002", "a");
  b = await machine(origin, "urn:hb:rebuilder:b", "Asia/Tokyo", "027", "b/a/much/deeper/path");
  mkdirSync(HOST_DIR, { recursive: true });

  writeFileSync(HOST_FILE, "machine A\n");
  const built = await on(a, ["build", "//x:pkg", "//x:hostpkg", "--provenance", "--signing-key", a.key, "--builder-id", a.builderId]);
  expect(built.exitCode, built.output).toBe(0);

  writeFileSync(HOST_FILE, "machine B\n");
  att = join(tempDir(), "att");
  const rebuilt = await on(b, [
    "verify",
    "//x:pkg",
    "//x:hostpkg",
    "--attest",
    "--signing-key",
    b.key,
    "--builder-id",
    b.builderId,
    "--attest-dir",
    att,
  ]);
  expect(rebuilt.exitCode, rebuilt.output).toBe(0);
});

afterAll(() => rmSync(HOST_DIR, { recursive: true, force: true }));

const keyPrefix = async (m: Machine) =>
  (await execa("sh", ["-c", `openssl pkey -pubin -in '${m.publicKey}' -outform DER | sha256sum`])).stdout.slice(0, 16);

describe("hb verify --attest (an independent rebuilder)", () => {
  it("signs, per output, what it rebuilt from the commit: its builder, its agreeing runs and every action's outputs", async () => {
    const prefix = await keyPrefix(b);
    expect(readdirSync(att).sort()).toEqual([`hostpkg.txt.rebuild.${prefix}.intoto.jsonl`, `pkg.txt.rebuild.${prefix}.intoto.jsonl`]);
    const file = join(att, `pkg.txt.rebuild.${prefix}.intoto.jsonl`);
    // a verifier that is not hb's code accepts it, with A's artifact as its subject: the same bytes
    const [statement] = verifyIndependently<HbStatement>(b.publicKey, file, join(a.checkout, "hb-out/x/pkg.txt"));
    expect(statement!.subject).toEqual([{ name: "hb-out/x/pkg.txt", digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } }]);
    const { buildDefinition, runDetails } = statement!.predicate;
    expect(buildDefinition.buildType).toBe("https://hb.dev/buildtypes/hb-rebuild/v1");
    expect(buildDefinition.internalParameters).toMatchObject({ runs: 2, runsAgreed: true, sandbox: "default" });
    expect(buildDefinition.resolvedDependencies[0]).toEqual({
      digest: { gitCommit: commit },
      annotations: { hb_kind: "source-commit", hb_dirty: false },
    });
    expect(runDetails.builder.id).toBe(b.builderId);
    expect(runDetails.byproducts.map((p) => p.name)).toEqual(["//x:gen", "//x:pkg", "//x:host", "//x:hostpkg"]);
    // one key signs nothing else: the other machine's public key does not verify it
    expect(() => verifyIndependently(a.publicKey, file, join(a.checkout, "hb-out/x/pkg.txt"))).toThrow(/no signature verifies/);
  });

  it("signs nothing and exits 1 when its own runs disagree (an action writes date +%N)", async () => {
    const dir = join(tempDir(), "att");
    const r = await on(b, ["verify", "//x:clock", "--attest", "--signing-key", b.key, "--builder-id", b.builderId, "--attest-dir", dir]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stderr).toContain("//x:clock: Genrule wrote different outputs from the same inputs");
    expect(r.stderr).toContain("hb verify: not signing: this builder's own runs did not agree");
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses to attest a dirty tree, and --attest without a key", async () => {
    writeFileSync(join(b.checkout, "x/in.txt"), "changed\n");
    try {
      const dirty = await on(b, ["verify", "//x:pkg", "--attest", "--signing-key", b.key]);
      expect(dirty.exitCode).toBe(2);
      expect(dirty.stderr).toContain("--attest needs a clean source tree; 1 file(s) differ from the commit: x/in.txt");
    } finally {
      await git(b.checkout, "checkout", "--", "x/in.txt");
    }
    const keyless = await on(b, ["verify", "//x:pkg", "--attest"]);
    expect(keyless.exitCode).toBe(2);
    expect(keyless.stderr).toContain("--attest needs --signing-key FILE");
  });
});

describe("hb attest verify --threshold (do k independent builders agree on this file?)", () => {
  const verifyOn = (m: Machine, artifact: string, extra: string[]) => on(m, ["attest", "verify", artifact, ...extra]);

  it("passes with both builders' keys: A's provenance beside the file and B's rebuild in --attestation", async () => {
    const r = await verifyOn(a, "hb-out/x/pkg.txt", ["--attestation", att, "--key", a.publicKey, "--key", b.publicKey, "--threshold", "2"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stdout).toContain(
      `hb: CORROBORATED: 2 independent builders agree on hb-out/x/pkg.txt from commit ${commit}: "urn:hb:ci:main" (key `,
    );
    expect(r.stdout).toContain('"urn:hb:rebuilder:b" (key ');
  });

  it("fails with one key trusted only, saying how many agreed", async () => {
    const r = await verifyOn(a, "hb-out/x/pkg.txt", ["--attestation", att, "--key", a.publicKey, "--threshold", "2"]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toContain("hb: NOT CORROBORATED: 1 of the 2 independent builders required agree on hb-out/x/pkg.txt");
    expect(r.stdout).toMatch(
      /FAIL {2}.*pkg\.txt\.rebuild\.[0-9a-f]{16}\.intoto\.jsonl:1 {2}signature: signed by key [0-9a-f]{16}, which is not trusted/,
    );
  });

  it("counts the same key under two builder ids once", async () => {
    // builder A's key signs a rebuild under another builder id: still one independent party
    const dir = join(tempDir(), "att");
    const again = await on(b, [
      "verify",
      "//x:pkg",
      "--attest",
      "--signing-key",
      a.key,
      "--builder-id",
      "urn:hb:rebuilder:c",
      "--attest-dir",
      dir,
    ]);
    expect(again.exitCode, again.output).toBe(0);
    const r = await verifyOn(a, "hb-out/x/pkg.txt", ["--attestation", dir, "--key", a.publicKey, "--key", b.publicKey, "--threshold", "2"]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toMatch(/SAME {2}.*builder "urn:hb:(ci:main|rebuilder:c)", key [0-9a-f]{16}: counts once/);
    expect(r.stdout).toContain("hb: NOT CORROBORATED: 1 of the 2 independent builders required agree");
  });

  it("fails a tampered artifact, naming it", async () => {
    const copy = join(tempDir(), "pkg.txt");
    writeFileSync(copy, readFileSync(join(a.checkout, "hb-out/x/pkg.txt"), "utf8") + "tampered\n");
    const r = await verifyOn(a, copy, [
      "--attestation",
      "hb-out/x/pkg.txt.intoto.jsonl",
      "--attestation",
      att,
      "--key",
      a.publicKey,
      "--key",
      b.publicKey,
      "--threshold",
      "2",
    ]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toContain(`hb: NOT CORROBORATED: 0 of the 2 independent builders required agree on ${copy}`);
    expect(r.stdout).toMatch(
      /DISAGREES: builder "urn:hb:ci:main" \(key [0-9a-f]{16}\) attests sha256 [0-9a-f]{12}… for hb-out\/x\/pkg\.txt, not this file's/,
    );
    expect(r.stdout).toMatch(/DISAGREES: builder "urn:hb:rebuilder:b" .* for hb-out\/x\/pkg\.txt, not this file's/);
  });

  it("names the action whose output differs between the builders but not within one (an undeclared host file)", async () => {
    const r = await verifyOn(a, "hb-out/x/hostpkg.txt", [
      "--attestation",
      att,
      "--key",
      a.publicKey,
      "--key",
      b.publicKey,
      "--threshold",
      "2",
    ]);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toContain("hb: NOT CORROBORATED: 1 of the 2 independent builders required agree on hb-out/x/hostpkg.txt");
    expect(r.stdout).toMatch(
      /DISAGREES: builder "urn:hb:rebuilder:b" .* for hb-out\/x\/hostpkg\.txt, not this file's [0-9a-f]{12}…: the first action whose outputs differ from builder "urn:hb:ci:main"'s is \/\/x:host \(Genrule\): hb-out\/x\/host\.txt [0-9a-f]{12}… vs [0-9a-f]{12}…; same action key/,
    );
    expect(r.stdout).toContain("next: hb explain hb-out/x/host.txt on each builder, and hb verify //x:host");
    // B's attestation of pkg.txt is about another artifact, not a disagreement about this one
    expect(r.stdout).not.toContain("for hb-out/x/pkg.txt");
  });
});
