// Verified reproducible releases (issue 15), end to end: two builder "machines" on one host, each
// its own clone of the workspace at its own path, with its own key, builder id, TZ, umask and
// output base, sharing nothing but the commit.
import { execa } from "execa";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATE_CHECKS } from "@hb/core/engine";
import { HB, type HbRun, hb, makeWorkspace, tempDir } from "./helpers";
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
  'genrule({ name: "loose", srcs: ["in.txt"], outs: ["loose.txt"], tags: ["no-sandbox"], cmd: "cp $< $@" });',
  "",
].join("\n");

/** Both builders, each trusted with its own key. */
const TRUSTED = { "urn:hb:ci:main": ["keys/a.pem"], "urn:hb:rebuilder:b": ["keys/b.pem"] };

/** hb.config.ts with a release of //x:pkg under `policy`. */
const releaseConfig = (policy: object) => `export default { release: { targets: ["//x:pkg"], policy: ${JSON.stringify(policy)} } };\n`;

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

async function machine(
  origin: string,
  keys: { key: string; publicKey: string },
  builderId: string,
  tz: string,
  umask: string,
  depth: string,
): Promise<Machine> {
  const home = tempDir();
  const checkout = join(home, depth, "checkout");
  mkdirSync(join(checkout, ".."), { recursive: true });
  await git(home, "clone", "-q", origin, checkout);
  return { checkout, base: join(home, "output-base"), ...keys, builderId, tz, umask };
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
let origin: string;
let commit: string;
/** the release job's key, which signs verification summaries */
let gateKey: { key: string; publicKey: string };
/** builder B's rebuild attestations of //x:pkg and //x:hostpkg */
let att: string;

beforeAll(async () => {
  const [ka, kb] = [await keyPair(), await keyPair()];
  gateKey = await keyPair();
  // the release policy is committed, with the builders' public keys: the release job gates by it
  origin = makeWorkspace(
    {
      ".gitignore": ".hb/\nhb-out/\n",
      "x/BUILD.ts": BUILD,
      "x/in.txt": "release me\n",
      "keys/a.pem": readFileSync(ka.publicKey, "utf8"),
      "keys/b.pem": readFileSync(kb.publicKey, "utf8"),
    },
    releaseConfig({ builders: TRUSTED, corroboration: 2 }),
  );
  await git(origin, "init", "-q");
  await git(origin, "add", "-A");
  await git(origin, "commit", "-qm", "release");
  commit = (await git(origin, "rev-parse", "HEAD")).stdout.trim();
  a = await machine(origin, ka, "urn:hb:ci:main", "America/New_York", "002", "a");
  b = await machine(origin, kb, "urn:hb:rebuilder:b", "Asia/Tokyo", "027", "b/a/much/deeper/path");
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
  /** k = 2 of the two builders' keys, over these attestations besides the artifact's own */
  const twoOfTwo = (artifact: string, ...attestations: string[]) =>
    verifyOn(a, artifact, [
      ...attestations.flatMap((x) => ["--attestation", x]),
      "--key",
      a.publicKey,
      "--key",
      b.publicKey,
      "--threshold",
      "2",
    ]);

  it("passes with both builders' keys: A's provenance beside the file and B's rebuild in --attestation", async () => {
    const r = await twoOfTwo("hb-out/x/pkg.txt", att);
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
    // one expected builder id cannot make two independent builders
    const one = await verifyOn(a, "hb-out/x/pkg.txt", ["--key", a.publicKey, "--threshold", "2", "--builder-id", a.builderId]);
    expect(one.exitCode).toBe(2);
    expect(one.stderr).toContain("--builder-id names one builder, and --threshold 2 needs 2 distinct ones");
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
    const r = await twoOfTwo("hb-out/x/pkg.txt", dir);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toMatch(/SAME {2}.*builder "urn:hb:(ci:main|rebuilder:c)", key [0-9a-f]{16}: counts once/);
    expect(r.stdout).toContain("hb: NOT CORROBORATED: 1 of the 2 independent builders required agree");
  });

  it("fails a tampered artifact, naming it", async () => {
    const copy = join(tempDir(), "pkg.txt");
    writeFileSync(copy, readFileSync(join(a.checkout, "hb-out/x/pkg.txt"), "utf8") + "tampered\n");
    const r = await twoOfTwo(copy, "hb-out/x/pkg.txt.intoto.jsonl", att);
    expect(r.exitCode, r.output).toBe(1);
    expect(r.stdout).toContain(`hb: NOT CORROBORATED: 0 of the 2 independent builders required agree on ${copy}`);
    expect(r.stdout).toMatch(
      /DISAGREES: builder "urn:hb:ci:main" \(key [0-9a-f]{16}\) attests sha256 [0-9a-f]{12}… for hb-out\/x\/pkg\.txt, not this file's/,
    );
    expect(r.stdout).toMatch(/DISAGREES: builder "urn:hb:rebuilder:b" .* for hb-out\/x\/pkg\.txt, not this file's/);
  });

  it("names the action whose output differs between the builders but not within one (an undeclared host file)", async () => {
    const r = await twoOfTwo("hb-out/x/hostpkg.txt", att);
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

/** The parts of a verification summary these tests read. */
interface VsaStatement {
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  predicate: {
    verifier: { id: string };
    timeVerified: string;
    resourceUri: string;
    policy: { uri: string; digest: { sha256: string } };
    inputAttestations: { name: string; digest: { sha256: string } }[];
    verificationResult: string;
    verifiedLevels: string[];
    "https://hb.dev/gate/v1": { sourceCommit: string; checks: { check: string; status: string }[]; bypass?: object };
  };
}

/** A release job's checkout elsewhere, gating by `policy` the artifacts it is given. */
function gateWorkspace(policy: object): string {
  return makeWorkspace(
    { "keys/a.pem": readFileSync(a.publicKey, "utf8"), "keys/b.pem": readFileSync(b.publicKey, "utf8") },
    releaseConfig(policy),
  );
}

/** hb gate of `artifact` for the release's commit, by `policy`, in a release job's checkout. */
const gateBy = (policy: object, artifact: string, ...extra: string[]) =>
  hb(gateWorkspace(policy), ["gate", artifact, "--source-commit", commit, ...extra]);

/** `check: status` for each check of a gate's text output. */
function statuses(run: HbRun): Record<string, string> {
  return Object.fromEntries([...run.stdout.matchAll(/^ {2}(PASS|FAIL|SKIP) {2}([a-z-]+) /gm)].map((m) => [m[2]!, m[1]!]));
}

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const ALL_PASS = { provenance: "PASS", "source-commit": "PASS", "clean-tree": "PASS", "pinned-inputs": "PASS", sandboxed: "PASS" };

describe("hb gate (the release job)", () => {
  const pkg = () => join(a.checkout, "hb-out/x/pkg.txt");

  it("passes a good release and signs a verification summary that a verifier not hb's own accepts", async () => {
    const ws = gateWorkspace({ builders: TRUSTED, corroboration: 2 });
    const r = await hb(ws, [
      "gate",
      pkg(),
      "--attestation",
      att,
      "--source-commit",
      commit,
      "--signing-key",
      gateKey.key,
      "--verifier-id",
      "urn:hb:gate:release",
    ]);
    expect(r.exitCode, r.output).toBe(0);
    expect(statuses(r)).toEqual({ ...ALL_PASS, strict: "SKIP", "hermetic-violations": "SKIP", corroboration: "PASS" });
    expect(r.stdout).toContain("hb: gate PASSED: 1 artifact(s) may be promoted");
    const [vsa] = verifyIndependently<VsaStatement>(gateKey.publicKey, `${pkg()}.vsa.intoto.jsonl`, pkg());
    expect(vsa!.predicateType).toBe("https://slsa.dev/verification_summary/v1");
    expect(vsa!.subject).toEqual([{ name: "hb-out/x/pkg.txt", digest: { sha256: sha256(pkg()) } }]);
    const p = vsa!.predicate;
    expect(p.verifier.id).toBe("urn:hb:gate:release");
    expect(p.timeVerified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(p.resourceUri).toBe(`pkg:generic/pkg.txt?checksum=sha256:${sha256(pkg())}`);
    expect(p.policy).toEqual({
      uri: `urn:hb:release-policy:sha256:${p.policy.digest.sha256}`,
      digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const rebuild = readdirSync(att).find((f) => f.startsWith("pkg.txt.rebuild."))!;
    expect(p.inputAttestations.map((i) => i.digest.sha256).sort()).toEqual(
      [sha256(`${pkg()}.intoto.jsonl`), sha256(join(att, rebuild))].sort(),
    );
    expect(p.verificationResult).toBe("PASSED");
    expect(p.verifiedLevels).toEqual(["SLSA_BUILD_LEVEL_1"]);
    expect(p["https://hb.dev/gate/v1"].sourceCommit).toBe(commit);
    // --output json is the same answer as data
    const json = await hb(ws, ["gate", pkg(), "--attestation", att, "--source-commit", commit, "--output", "json"]);
    expect(json.exitCode).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({
      version: 1,
      result: "passed",
      sourceCommit: commit,
      policyDigest: p.policy.digest.sha256,
      openBypasses: [],
    });
    expect(result.artifacts[0].checks.map((c: { check: string }) => c.check)).toEqual(GATE_CHECKS);
  });

  it("fails provenance: the build's (key, builder id) pair is not one the policy trusts", async () => {
    // key a is trusted, but for another builder: a key vouches only for the builder it is listed under
    const r = await gateBy(
      { builders: { "urn:hb:rebuilder:b": ["keys/b.pem"], "urn:hb:other": ["keys/a.pem"] } },
      pkg(),
      "--attestation",
      att,
    );
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ provenance: "FAIL", corroboration: "PASS" });
    expect(r.stdout).toContain(
      `the provenance of ${pkg()} does not count: builder "urn:hb:ci:main" is not a trusted builder of the release policy`,
    );
    const untrusted = await gateBy({ builders: { "urn:hb:rebuilder:b": ["keys/b.pem"] } }, pkg());
    expect(untrusted.exitCode).toBe(1);
    expect(untrusted.stdout).toContain("1 attestation(s) read, 1 signed by no key the policy lists");
  });

  it("fails source-commit: the artifact is of another commit than the release's", async () => {
    const ws = gateWorkspace({ builders: TRUSTED });
    const other = "f".repeat(40);
    const r = await hb(ws, ["gate", pkg(), "--attestation", att, "--source-commit", other]);
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ provenance: "PASS", "source-commit": "FAIL" });
    expect(r.stdout).toContain(`${pkg()} was built from commit ${commit}, not ${other}; to fix: promote the artifact built from ${other}`);
  });

  it("fails clean-tree: the provenance records uncommitted changes", async () => {
    const c = await machine(origin, { key: a.key, publicKey: a.publicKey }, a.builderId, "UTC", "022", "c");
    writeFileSync(join(c.checkout, "NOTES.txt"), "not committed\n");
    const built = await on(c, ["build", "//x:pkg", "--provenance", "--signing-key", c.key, "--builder-id", c.builderId, "--allow-dirty"]);
    expect(built.exitCode, built.output).toBe(0);
    const r = await gateBy({ builders: TRUSTED }, join(c.checkout, "hb-out/x/pkg.txt"));
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ provenance: "PASS", "source-commit": "PASS", "clean-tree": "FAIL", corroboration: "PASS" });
    expect(r.stdout).toContain(
      `was built from commit ${commit} plus uncommitted changes: its provenance records a dirty tree (--allow-dirty)`,
    );
  });

  it("fails pinned-inputs for a package this build pinned on first fetch, passes once hb.lock.json is committed", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "package"));
    writeFileSync(join(dir, "package/package.json"), '{"name":"left-pad","version":"1.0.0"}');
    writeFileSync(join(dir, "package/index.js"), "module.exports = 1;\n");
    await execa("tar", ["-czf", "left-pad.tgz", "package"], { cwd: dir });
    const tarball = readFileSync(join(dir, "left-pad.tgz"));
    const server = createServer((_, res) => res.writeHead(200, { "content-length": tarball.length }).end(tarball));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/left-pad-1.0.0.tgz`;
      const lock = {
        name: "app",
        lockfileVersion: 3,
        packages: { "": { name: "app" }, "node_modules/left-pad": { version: "1.0.0", resolved: url } },
      };
      const ws = makeWorkspace({
        ".gitignore": ".hb/\nhb-out/\n",
        "app/package-lock.json": JSON.stringify(lock),
        "app/BUILD.ts":
          'import { genrule } from "@hb/core";\nimport { npm_deps } from "@hb/rules-node";\n' +
          'npm_deps({ name: "deps" });\n' +
          'genrule({ name: "use", srcs: [":deps"], outs: ["use.txt"], cmd: "cat hb-out/app/node_modules/left-pad/index.js > $@" });\n',
      });
      await git(ws, "init", "-q");
      await git(ws, "add", "-A");
      await git(ws, "commit", "-qm", "unpinned");
      const head = (await git(ws, "rev-parse", "HEAD")).stdout.trim();
      const built = await hb(ws, ["build", "//app:use", "--provenance", "--signing-key", a.key, "--builder-id", a.builderId]);
      expect(built.exitCode, built.output).toBe(0);
      const r = await hb(gateWorkspace({ builders: TRUSTED }), ["gate", join(ws, "hb-out/app/use.txt"), "--source-commit", head]);
      expect(r.exitCode, r.output).toBe(1);
      expect(statuses(r)).toMatchObject({ provenance: "PASS", "source-commit": "PASS", "pinned-inputs": "FAIL", corroboration: "PASS" });
      expect(r.stdout).toContain(
        "was built with 1 package(s) pinned by nothing reviewed (no integrity in the lockfile, none in hb.lock.json as the build started): pkg:npm/left-pad@1.0.0",
      );
      // reviewed: a build of the commit that holds the pin records it
      await git(ws, "add", "hb.lock.json");
      await git(ws, "commit", "-qm", "pin");
      const head2 = (await git(ws, "rev-parse", "HEAD")).stdout.trim();
      const rebuilt = await hb(ws, ["build", "//app:use", "--provenance", "--signing-key", a.key, "--builder-id", a.builderId]);
      expect(rebuilt.exitCode, rebuilt.output).toBe(0);
      const r2 = await hb(gateWorkspace({ builders: TRUSTED }), ["gate", join(ws, "hb-out/app/use.txt"), "--source-commit", head2]);
      expect(r2.exitCode, r2.output).toBe(0);
      expect(statuses(r2)).toMatchObject({ "pinned-inputs": "PASS" });
      expect(r2.stdout).toContain("all 1 lockfile packages pinned by integrity");
    } finally {
      server.close();
    }
  });

  it("fails sandboxed: an action of the closure ran unsandboxed (tag no-sandbox, --allow-unsandboxed)", async () => {
    const built = await on(a, [
      "build",
      "//x:loose",
      "--provenance",
      "--allow-unsandboxed",
      "--signing-key",
      a.key,
      "--builder-id",
      a.builderId,
    ]);
    expect(built.exitCode, built.output).toBe(0);
    const r = await gateBy({ builders: TRUSTED }, join(a.checkout, "hb-out/x/loose.txt"));
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ provenance: "PASS", sandboxed: "FAIL", corroboration: "PASS" });
    expect(r.stdout).toContain("was built with unsandboxed actions: //x:loose (tag no-sandbox, --allow-unsandboxed)");
  });

  it("fails strict: the policy requires --sandbox=strict and the release was built in the default sandbox", async () => {
    const r = await gateBy({ builders: TRUSTED, corroboration: 2, strict: true }, pkg(), "--attestation", att);
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toEqual({ ...ALL_PASS, strict: "FAIL", "hermetic-violations": "SKIP", corroboration: "PASS" });
    expect(r.stdout).toContain("was built with --sandbox=default; the policy requires strict");
  });

  it("fails hermetic-violations: the audited build of this digest read an undeclared file (or no audit was given)", async () => {
    writeFileSync(HOST_FILE, "machine A\n");
    const audited = await on(a, ["build", "//x:hostpkg", "--audit", "--report", "audit.json"]);
    expect(audited.exitCode, audited.output).toBe(0);
    const ws = gateWorkspace({ builders: TRUSTED, maxHermeticViolations: 0 });
    const hostpkg = join(a.checkout, "hb-out/x/hostpkg.txt");
    const r = await hb(ws, ["gate", hostpkg, "--source-commit", commit, "--audit-report", join(a.checkout, "audit.json")]);
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ provenance: "PASS", "hermetic-violations": "FAIL", corroboration: "PASS" });
    expect(r.stdout).toMatch(new RegExp(`has [1-9]\\d* hermeticity violation\\(s\\), the policy allows 0: //x:host read ${HOST_FILE}`));
    const none = await hb(ws, ["gate", hostpkg, "--source-commit", commit]);
    expect(none.exitCode).toBe(1);
    expect(none.stdout).toContain("the policy allows at most 0 hermeticity violation(s) in the build of");
    expect(none.stdout).toContain("and no --audit-report was given");
  });

  it("fails corroboration: the policy wants two builders and only the build attests it", async () => {
    const r = await gateBy({ builders: TRUSTED, corroboration: 2 }, pkg());
    expect(r.exitCode, r.output).toBe(1);
    expect(statuses(r)).toMatchObject({ ...ALL_PASS, corroboration: "FAIL" });
    expect(r.stdout).toContain(`1 of the 2 independent trusted builders required attest ${pkg()}`);
    expect(r.stdout).toContain("to fix: rebuild independently on another runner with another key: hb verify //x:pkg --attest");
  });

  it("fails a tampered artifact on every check, each naming it", async () => {
    const copy = join(tempDir(), "pkg.txt");
    writeFileSync(copy, readFileSync(pkg(), "utf8") + "tampered\n");
    const ws = gateWorkspace({ builders: TRUSTED, corroboration: 2, strict: true, maxHermeticViolations: 0 });
    const r = await hb(ws, ["gate", copy, "--attestation", `${pkg()}.intoto.jsonl`, "--attestation", att, "--source-commit", commit]);
    expect(r.exitCode, r.output).toBe(1);
    const lines = r.stdout.split("\n").filter((l) => /^ {2}(PASS|FAIL|SKIP) /.test(l));
    expect(lines).toHaveLength(8);
    for (const line of lines) {
      expect(line).toMatch(/^ {2}FAIL /);
      expect(line).toContain(copy);
    }
    expect(r.stdout).toContain(`${copy} (sha256 ${sha256(copy).slice(0, 12)}…) is not what was attested: builder "urn:hb:ci:main"`);
    // and a file no attestation covers at all fails the same way, wherever it lies
    const bare = await gateBy({ builders: TRUSTED }, copy);
    expect(bare.exitCode, bare.output).toBe(1);
    expect(bare.stdout).toContain(
      `FAIL  provenance           no attestation covers ${copy}: none beside it and none given with --attestation`,
    );
  });

  it("cannot evaluate (exit 2) without a policy, an artifact or a policy key", async () => {
    const noPolicy = await hb(makeWorkspace(), ["gate", pkg(), "--source-commit", commit]);
    expect(noPolicy.exitCode).toBe(2);
    expect(noPolicy.stderr).toContain("no release policy in hb.config.ts");
    const ws = gateWorkspace({ builders: TRUSTED });
    const noArtifact = await hb(ws, ["gate", "nope.tgz", "--source-commit", commit]);
    expect(noArtifact.exitCode).toBe(2);
    expect(noArtifact.stderr).toContain("cannot read artifact");
    const noKey = await gateBy({ builders: { "urn:hb:ci:main": ["keys/gone.pem"] } }, pkg());
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain("cannot read public key");
    const usage = await hb(ws, ["gate", pkg()]);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("hb gate needs --source-commit SHA");
  });
});

describe("hb gate --bypass (an emergency)", () => {
  it("passes a failing release, loudly recorded, and keeps the bypass open until it is closed with a postmortem", async () => {
    const pkg = join(a.checkout, "hb-out/x/pkg.txt");
    const report = join(tempDir(), "gate.json");
    // in A's checkout, by the committed policy (corroboration: 2) and the outputs of release.targets
    const r = await on(a, [
      "gate",
      "--source-commit",
      commit,
      "--bypass",
      "INC-1234",
      "--reason",
      "CVE hotfix",
      "--signing-key",
      gateKey.key,
      "--report",
      report,
    ]);
    expect(r.exitCode, r.output).toBe(0);
    expect(statuses(r)).toMatchObject({ provenance: "PASS", corroboration: "FAIL" });
    expect(r.stdout).toContain('hb: gate PASSED BY BYPASS INC-1234 ("CVE hotfix"): failed checks of hb-out/x/pkg.txt: corroboration');
    expect(r.stderr).toContain('WARNING: bypass INC-1234 ("CVE hotfix", ');

    // the summary says so, to anyone who checks that one file
    const [vsa] = verifyIndependently<VsaStatement>(gateKey.publicKey, `${pkg}.vsa.intoto.jsonl`, pkg);
    expect(vsa!.predicate.verificationResult).toBe("PASSED");
    expect(vsa!.predicate.verifiedLevels).toEqual(["HB_BYPASSED"]);
    expect(vsa!.predicate["https://hb.dev/gate/v1"].bypass).toEqual({
      id: "INC-1234",
      reason: "CVE hotfix",
      failedChecks: ["corroboration"],
    });
    // so do --report and the log in the output base
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({
      result: "bypassed",
      bypass: { id: "INC-1234", reason: "CVE hotfix", artifacts: [{ artifact: "hb-out/x/pkg.txt", failedChecks: ["corroboration"] }] },
    });
    const log = readFileSync(join(a.base, "bypasses.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log).toEqual([
      expect.objectContaining({ version: 1, type: "bypass", id: "INC-1234", reason: "CVE hotfix", sourceCommit: commit }),
    ]);

    // it stays open: a later gate, passing without it, still says so (and records no needless bypass)
    const later = await on(a, [
      "gate",
      "--source-commit",
      commit,
      "--attestation",
      att,
      "--output",
      "json",
      "--bypass",
      "INC-9",
      "--reason",
      "x",
    ]);
    expect(later.exitCode, later.output).toBe(0);
    expect(JSON.parse(later.stdout)).toMatchObject({ result: "passed", openBypasses: [{ id: "INC-1234" }] });
    expect(JSON.parse(later.stdout).openBypasses).toHaveLength(1);
    expect(later.stderr).toContain("--bypass INC-9 was not needed: every check passed, and nothing was recorded");
    expect(later.stderr).toContain("bypass INC-1234");

    // closed only with a postmortem
    const bare = await on(a, ["gate", "--close-bypass", "INC-1234"]);
    expect(bare.exitCode).toBe(2);
    expect(bare.stderr).toContain("--close-bypass INC-1234 needs --postmortem URL");
    const closed = await on(a, ["gate", "--close-bypass", "INC-1234", "--postmortem", "https://wiki.example.com/pm/1234"]);
    expect(closed.exitCode, closed.output).toBe(0);
    const after = await on(a, ["gate", "--source-commit", commit, "--attestation", att, "--output", "json"]);
    expect(JSON.parse(after.stdout).openBypasses).toEqual([]);
    expect(after.stderr).not.toContain("INC-1234");
    const again = await on(a, ["gate", "--close-bypass", "INC-1234", "--postmortem", "https://wiki.example.com/pm/1234"]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("no open bypass 'INC-1234'");
  });
});
