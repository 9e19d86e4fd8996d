import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { chromium } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../packages/cache-server/src/testing/server";
import { HB, REPO, hb, makeWorkspace, tempDir, writeFiles } from "./helpers";

// The trust loop's figures from real runs: every SLI computed from the run records that real
// builds, verifies, audits and remote reads wrote, the dashboard rendered by a real browser, and
// hb doctor's checklist on a bare workspace turning from FAIL to PASS as its fixes are made.

const G = 'import { genrule } from "@hb/core";\n';

let servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

const json = (text: string) => JSON.parse(text);

/** A release workspace: //app:pkg is the release artifact (of the pattern //app/...), CI's key the one trusted builder. */
async function releaseWorkspace(): Promise<{ ws: string; ciKey: string }> {
  const keysDir = tempDir();
  const ws = makeWorkspace(
    {
      "app/BUILD.ts": G + 'genrule({ name: "pkg", srcs: ["src.txt"], outs: ["pkg.txt"], cmd: "cat $< > $@" });\n',
      "app/src.txt": "release\n",
      "p/BUILD.ts":
        G +
        'genrule({ name: "clock", outs: ["clock.txt"], cmd: "date +%s%N > $@" });\n' +
        'genrule({ name: "peek", outs: ["peek.txt"], cmd: "head -c 0 /etc/passwd > $@" });\n',
    },
    // a pattern, as release.targets may be: it stands for //app:pkg
    'export default { release: { targets: ["//app/..."], policy: { builders: { "urn:hb:ci": ["keys/ci.pem"] } } } };\n',
  );
  expect((await hb(keysDir, ["keygen", "--out", "ci"])).exitCode).toBe(0);
  mkdirSync(join(ws, "keys"));
  copyFileSync(join(keysDir, "ci/public.pem"), join(ws, "keys/ci.pem"));
  return { ws, ciKey: join(keysDir, "ci/private.pem") };
}

describe("hb report", () => {
  it("computes each SLI for this week from the records real runs wrote, counts and all", async () => {
    const { ws, ciKey } = await releaseWorkspace();
    // provenance coverage: the release artifact built once with trusted provenance, once without
    const signed = await hb(ws, [
      "build",
      "//app:pkg",
      "--provenance",
      "--signing-key",
      ciKey,
      "--builder-id",
      "urn:hb:ci",
      "--allow-dirty",
    ]);
    expect(signed.exitCode, signed.output).toBe(0);
    writeFileSync(join(ws, "app/src.txt"), "release 2\n");
    expect((await hb(ws, ["build", "//app:pkg"])).exitCode).toBe(0);
    // reproducibility: one artifact reproduces, one (a clock) does not
    expect((await hb(ws, ["verify", "//app:pkg"])).exitCode).toBe(0);
    expect((await hb(ws, ["verify", "//p:clock"])).exitCode).toBe(1);
    // hermeticity: an audit finds one undeclared read
    expect((await hb(ws, ["build", "//p:peek", "--audit"])).exitCode).toBe(0);
    // cache incidents: entries a server holds, signed by a key this workspace does not trust
    const s = await startTestServer({});
    servers.push(s);
    const other = makeWorkspace({ "app/BUILD.ts": readFileSync(join(ws, "app/BUILD.ts"), "utf8"), "app/src.txt": "release 3\n" });
    const otherKeys = tempDir();
    expect((await hb(otherKeys, ["keygen", "--out", "k"])).exitCode).toBe(0);
    expect(
      (
        await hb(other, [
          "build",
          "//app:pkg",
          "--remote-cache",
          s.url,
          "--remote-upload",
          "--signing-key",
          join(otherKeys, "k/private.pem"),
        ])
      ).exitCode,
    ).toBe(0);
    // content this workspace has not built yet, so the build asks the server and refuses what it offers
    writeFileSync(join(ws, "app/src.txt"), "release 3\n");
    const refused = await hb(ws, ["build", "//app:pkg", "--remote-cache", s.url, "--trusted-key", join(ws, "keys/ci.pem")]);
    expect(refused.exitCode, refused.output).toBe(0);

    // this week and the one before it, which has no data
    const r = await hb(ws, ["report", "--output", "json", "--since", "2w"]);
    expect(r.exitCode, r.output).toBe(0);
    const report = json(r.stdout);
    const thisWeek = (sli: string) => report.slis[sli].weeks[report.slis[sli].weeks.length - 1];
    expect(Object.keys(report.slis)).toEqual([
      "reproducibility",
      "hermeticViolations",
      "cacheIncidents",
      "meanTimeToExplainMs",
      "provenanceCoverage",
    ]);
    expect(thisWeek("reproducibility")).toMatchObject({
      value: 1,
      verified: 2,
      reproducible: 1,
      releaseVerified: 1,
      releaseReproducible: 1,
    });
    expect(thisWeek("hermeticViolations")).toMatchObject({ value: 1, audited: 1, auditFindings: 1, undeclaredTools: 0 });
    expect(thisWeek("cacheIncidents").value).toBeGreaterThanOrEqual(1);
    expect(thisWeek("cacheIncidents").refused).toEqual({ untrusted: expect.any(Number) });
    // the release artifact is explained at report time: how it was made, but no provenance covers this content
    expect(thisWeek("meanTimeToExplainMs")).toMatchObject({ explained: 1, incomplete: 1 });
    expect(thisWeek("meanTimeToExplainMs").value).toBeGreaterThan(0);
    expect(thisWeek("provenanceCoverage")).toMatchObject({ built: 3, covered: 1 });
    expect(report.slowest.length).toBeGreaterThan(0);
    // the last build missed the caches because its source changed, and the report says so
    expect(report.lastBuildMisses).toEqual([
      { label: "//app:pkg", mnemonic: "Genrule", why: expect.stringMatching(/^app\/src\.txt changed/) },
    ]);
    // a week with no data says so: null, and zero counts
    expect(report.slis.reproducibility.weeks[0]).toMatchObject({ value: null, verified: 0 });
  });

  it("merges records from many machines by id, each once", async () => {
    const { ws } = await releaseWorkspace();
    expect((await hb(ws, ["build", "//app:pkg"])).exitCode).toBe(0);
    const ci = makeWorkspace({ "app/BUILD.ts": G + 'genrule({ name: "pkg", outs: ["pkg.txt"], cmd: "echo ci > $@" });\n' });
    expect((await hb(ci, ["build", "//app:pkg", "--report", "ci-report.json"])).exitCode).toBe(0);
    const artifacts = tempDir();
    // the CI's report file, and a copy of this machine's own records: the copy counts once
    copyFileSync(join(ci, "ci-report.json"), join(artifacts, "build-report.json"));
    copyFileSync(join(ws, ".hb/records.jsonl"), join(artifacts, "laptop.jsonl"));
    // a directory named like a record file is passed over, not read
    mkdirSync(join(artifacts, "downloaded.json"));
    const alone = json((await hb(ws, ["report", "--output", "json"])).stdout);
    const merged = json((await hb(ws, ["report", "--output", "json", "--runs", artifacts])).stdout);
    expect(merged.records).toBe(alone.records + 1);
    // a --runs source that is not there is named, not silently left out
    const missing = await hb(ws, ["report", "--runs", join(artifacts, "no-such-run")]);
    expect(missing.exitCode, missing.output).toBe(2);
    expect(missing.stderr).toContain(`cannot read run records ${join(artifacts, "no-such-run")}: ENOENT`);
  });

  it("shows the team cache's own refusals since it started, beside the weeks, and stops at SIGTERM while a server does not answer", async () => {
    const ws = makeWorkspace();
    const s = await startTestServer({});
    servers.push(s);
    // an upload whose content is not what its digest says: the server refuses it (hash_mismatch)
    const put = await fetch(`${s.url}/cas/${"1".repeat(64)}`, { method: "PUT", body: "not that" });
    expect(put.status).toBe(400);
    const r = await hb(ws, ["report", "--output", "json", "--server", s.url]);
    expect(r.exitCode, r.output).toBe(0);
    const incidents = json(r.stdout).slis.cacheIncidents;
    expect(incidents.server).toEqual({ url: s.url, refused: { hash_mismatch: 1 }, corruptEntries: 0, total: 1 });
    // its lifetime counters are not this week's: the weeks hold what clients refused
    expect(incidents.weeks.every((w: { value: number | null }) => w.value === null)).toBe(true);
    expect((await hb(ws, ["report", "--server", s.url])).stdout).toContain(
      `${s.url} since it started: 1 hash_mismatch; 0 corrupt entries removed`,
    );

    // a server that takes connections and never answers: hb report stops at SIGTERM, as interrupted
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    try {
      const run = execa(process.execPath, [HB, "report", "--server", `http://127.0.0.1:${(silent.address() as AddressInfo).port}`], {
        cwd: ws,
        reject: false,
      });
      await new Promise((done) => setTimeout(done, 1500));
      const sent = Date.now();
      run.kill("SIGTERM");
      const ended = await run;
      expect(ended.exitCode, ended.stderr).toBe(130);
      expect(Date.now() - sent).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("refuses a period it cannot read, at once", async () => {
    const ws = makeWorkspace();
    for (const since of ["99999999999w", "soon", "2026-02-31"]) {
      const r = await hb(ws, ["report", "--since", since]);
      expect(r.exitCode, r.output).toBe(2);
      expect(r.stderr).toContain(`--since ${since}: give a number of weeks or days (8w, 30d) or a past date (2026-10-01)`);
    }
  });

  it("leaves out a record whose fields are missing or mistyped, and says how many it left out", async () => {
    const { ws } = await releaseWorkspace();
    expect((await hb(ws, ["build", "//app:pkg"])).exitCode).toBe(0);
    const good = readFileSync(join(ws, ".hb/records.jsonl"), "utf8").trim();
    const record = json(good);
    // the right header, but a build without its action list, and an explain whose duration is text
    const broken = [
      { ...record, id: "no-action-list", actionList: undefined },
      {
        ...record,
        id: "explain-as-text",
        command: "explain",
        sha256: "a".repeat(64),
        producers: 1,
        provenance: 0,
        complete: false,
        durationMs: "slow",
      },
    ];
    writeFileSync(join(ws, ".hb/records.jsonl"), [good, ...broken.map((b) => JSON.stringify(b))].join("\n") + "\n");
    const r = await hb(ws, ["report", "--output", "json"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(json(r.stdout)).toMatchObject({ records: 1, skipped: 2 });
    const text = await hb(ws, ["report"]);
    expect(text.stdout).toContain("1 run records (2 skipped: not valid records of schema 1)");
    const html = await hb(ws, ["report", "--output", "html"]);
    expect(html.exitCode, html.output).toBe(0);
    expect(html.stdout).not.toContain("NaN");
  });

  it("writes a self-contained HTML dashboard that a headless browser renders with five charts and no error", async () => {
    const { ws } = await releaseWorkspace();
    expect((await hb(ws, ["build", "//app:pkg"])).exitCode).toBe(0);
    expect((await hb(ws, ["verify", "//app:pkg"])).exitCode).toBe(0);
    const r = await hb(ws, ["report", "--output", "html", "--out", "trust.html"]);
    expect(r.exitCode, r.output).toBe(0);
    const html = readFileSync(join(ws, "trust.html"), "utf8");
    expect(html).not.toMatch(/<script|<link|@import|https?:\/\//);
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("request", (q) => !q.url().startsWith("file:") && problems.push(`fetched ${q.url()}`));
      await page.goto(`file://${join(ws, "trust.html")}`);
      expect(await page.locator("svg.chart").count()).toBe(5);
      expect(await page.locator("section.sli h2").allTextContents()).toEqual([
        "Reproducibility pass rate",
        "Hermetic violations",
        "Remote cache correctness incidents",
        "Mean time to explain a release",
        "Provenance coverage of release artifacts",
      ]);
      expect(await page.locator("#reproducibility .value").textContent()).toBe("100.0%");
      // it fits a laptop's width: nothing wider than the page
      expect(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe("provenance that verifies against release.policy", () => {
  it("is what hb explain answers in full with and hb report counts as coverage: a trusted builder's id, signed with its key", async () => {
    const { ws, ciKey } = await releaseWorkspace();
    const otherKeys = tempDir();
    expect((await hb(otherKeys, ["keygen", "--out", "k"])).exitCode).toBe(0);
    const sign = (key: string) =>
      hb(ws, ["build", "//app:pkg", "--provenance", "--signing-key", key, "--builder-id", "urn:hb:ci", "--allow-dirty"]);
    const explained = async () => {
      const r = await hb(ws, ["explain", "hb-out/app/pkg.txt", "--output", "json"]);
      expect(r.exitCode, r.output).toBe(0);
      const lines = readFileSync(join(ws, ".hb/records.jsonl"), "utf8").trim().split("\n");
      return { explanation: json(r.stdout), record: json(lines[lines.length - 1]!) };
    };
    // the trusted builder's id, signed by a key the policy does not list for it
    expect((await sign(join(otherKeys, "k/private.pem"))).exitCode).toBe(0);
    const forged = await explained();
    expect(forged.explanation.provenance).toEqual([
      expect.objectContaining({ file: "hb-out/app/pkg.txt.intoto.jsonl", builderId: "urn:hb:ci", trusted: false }),
    ]);
    expect(forged.record).toMatchObject({ command: "explain", producers: 1, provenance: 1, complete: false });
    const coverage = async () => {
      const weeks = json((await hb(ws, ["report", "--output", "json"])).stdout).slis.provenanceCoverage.weeks;
      return weeks[weeks.length - 1];
    };
    expect(await coverage()).toMatchObject({ built: 1, covered: 0 });
    // the same content signed by the builder's own key
    expect((await sign(ciKey)).exitCode).toBe(0);
    const signed = await explained();
    expect(signed.explanation.provenance).toEqual([expect.objectContaining({ trusted: true })]);
    expect(signed.record).toMatchObject({ command: "explain", producers: 1, provenance: 1, complete: true });
    // the same artifact, built twice: one artifact, covered
    expect(await coverage()).toMatchObject({ value: 1, built: 1, covered: 1 });
    expect((await hb(ws, ["explain", "hb-out/app/pkg.txt"])).stdout).toContain("verified: a builder release.policy trusts, with its key");
  });
});

describe("hb doctor", () => {
  const statuses = async (ws: string) => {
    const r = await hb(ws, ["doctor", "--output", "json"]);
    return {
      exitCode: r.exitCode,
      checks: Object.fromEntries(json(r.stdout).checks.map((c: { id: string; status: string }) => [c.id, c.status])),
    };
  };

  it("judges a bare workspace point by point, and each FAIL passes once the fix it names is made", async () => {
    const ws = makeWorkspace({ "app/BUILD.ts": G + 'genrule({ name: "pkg", outs: ["pkg.txt"], cmd: "echo 1 > $@" });\n' });
    const bare = await statuses(ws);
    expect(bare.exitCode).toBe(1);
    expect(bare.checks).toEqual({
      "toolchains-pinned": "warn",
      "dependencies-locked": "pass",
      "actions-sandboxed": "pass",
      "network-isolation": "pass",
      "source-date-epoch": "pass",
      "archive-normalization": "pass",
      "stable-environment": "pass",
      "rebuild-in-ci": "fail",
      "signed-provenance": "fail",
      "independent-rebuild": "fail",
      "slis-dashboard": "fail",
      "release-gate": "fail",
    });
    const fix = json((await hb(ws, ["doctor", "--output", "json"])).stdout).checks.find(
      (c: { id: string }) => c.id === "signed-provenance",
    ).fix;
    expect(fix).toContain("release: {");
    // the fixes: strict sandbox, a release setting with a corroborating policy, the CI template
    writeFiles(ws, {
      "hb.config.ts":
        'export default { sandbox: "strict", release: { targets: ["//app:pkg"], policy: { builders: { "urn:hb:ci:main": ["keys/build.pem"], "urn:hb:rebuilder:b": ["keys/rebuild.pem"] }, corroboration: 2 } } };\n',
    });
    mkdirSync(join(ws, ".github/workflows"), { recursive: true });
    cpSync(join(REPO, "examples/ci/release.yml"), join(ws, ".github/workflows/release.yml"));
    const fixed = await statuses(ws);
    expect(fixed.exitCode).toBe(0);
    expect(Object.values(fixed.checks).every((s) => s === "pass")).toBe(true);
  });

  it("passes each point that was not passing once the one fix it names is made, alone", async () => {
    const BUILD = { "app/BUILD.ts": G + 'genrule({ name: "pkg", outs: ["pkg.txt"], cmd: "echo 1 > $@" });\n' };
    const RELEASE = 'release: { targets: ["//app:pkg"], policy: { builders: { "urn:hb:ci": ["keys/ci.pem"] } } }';
    const workflow = (run: string) => ({
      ".github/workflows/ci.yml": `on: push\njobs:\n  ci:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ${run}\n`,
    });
    const ciKey = tempDir();
    expect((await hb(ciKey, ["keygen", "--out", "ci"])).exitCode).toBe(0);
    expect((await hb(ciKey, ["keygen", "--out", "rebuild"])).exitCode).toBe(0);
    const key = { "keys/ci.pem": readFileSync(join(ciKey, "ci/public.pem"), "utf8") };
    const rebuildKey = readFileSync(join(ciKey, "rebuild/public.pem"), "utf8");
    // each point: what its fix says, and that fix made in a bare workspace
    const fixes: { id: string; says: string; config?: string; files?: Record<string, string> }[] = [
      { id: "toolchains-pinned", says: 'sandbox: "strict"', config: 'export default { sandbox: "strict" };\n' },
      { id: "dependencies-locked", says: "commit a lockfile", files: { "package-lock.json": "{}\n" } },
      { id: "rebuild-in-ci", says: "run hb verify", files: workflow("npx hb verify //app:pkg") },
      {
        id: "signed-provenance",
        says: "--provenance in CI",
        config: 'export default { release: { targets: ["//app:pkg"] } };\n',
        files: workflow('npx hb build //app:pkg --provenance --signing-key "$KEY"'),
      },
      {
        id: "independent-rebuild",
        says: "trust that key in release.policy.builders and set release.policy.corroboration to 2",
        config: `export default { release: { targets: ["//app:pkg"], policy: { builders: { "urn:hb:ci": ["keys/ci.pem"], "urn:hb:rebuilder": ["keys/rebuild.pem"] }, corroboration: 2 } } };\n`,
        files: { ...key, "keys/rebuild.pem": rebuildKey, ...workflow('npx hb verify //app:pkg --attest --signing-key "$KEY"') },
      },
      { id: "slis-dashboard", says: "run hb report --runs", files: workflow("npx hb report --runs reports --output html") },
      {
        id: "release-gate",
        says: "run hb gate",
        config: `export default { ${RELEASE} };\n`,
        files: { ...key, ...workflow("npx hb gate hb-out/app/pkg.txt") },
      },
    ];
    const bare = (more: Record<string, string> = {}) => makeWorkspace({ ...BUILD, "package.json": "{}\n", ...more });
    const before = json((await hb(bare(), ["doctor", "--output", "json"])).stdout).checks;
    const notPassing = before.filter((c: { status: string }) => c.status !== "pass").map((c: { id: string }) => c.id);
    expect(notPassing).toEqual(fixes.map((f) => f.id));
    for (const f of fixes) {
      expect(before.find((c: { id: string }) => c.id === f.id).fix, f.id).toContain(f.says);
      const ws = bare(f.files);
      if (f.config) writeFiles(ws, { "hb.config.ts": f.config });
      const after = await statuses(ws);
      expect(after.checks[f.id], f.id).toBe("pass");
    }
    // the two points an unsandboxed target fails: the release closure's tag dropped, they pass
    const tagged = (tags: string) =>
      makeWorkspace(
        { "app/BUILD.ts": G + `genrule({ name: "pkg", outs: ["pkg.txt"], tags: [${tags}], cmd: "echo 1 > $@" });\n` },
        'export default { release: { targets: ["//app:pkg"] } };\n',
      );
    const unsandboxed = await statuses(tagged('"no-sandbox"'));
    expect([unsandboxed.checks["actions-sandboxed"], unsandboxed.checks["network-isolation"]]).toEqual(["fail", "fail"]);
    const dropped = await statuses(tagged(""));
    expect([dropped.checks["actions-sandboxed"], dropped.checks["network-isolation"]]).toEqual(["pass", "pass"]);
  });

  it("judges hb's examples point by point, and the archive they never verified passes once verified", async () => {
    const ws = makeWorkspace({});
    for (const d of ["examples/basic", "examples/ts-monorepo", "tools"]) cpSync(join(REPO, d), join(ws, d), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(ws, "node_modules"));
    const examples = await statuses(ws);
    expect(examples.exitCode).toBe(1);
    expect(examples.checks).toEqual({
      "toolchains-pinned": "warn",
      "dependencies-locked": "pass",
      "actions-sandboxed": "pass",
      "network-isolation": "pass",
      "source-date-epoch": "pass",
      "archive-normalization": "warn",
      "stable-environment": "pass",
      "rebuild-in-ci": "fail",
      "signed-provenance": "fail",
      "independent-rebuild": "fail",
      "slis-dashboard": "fail",
      "release-gate": "fail",
    });
    const archive = json((await hb(ws, ["doctor", "--output", "json"])).stdout).checks.find(
      (c: { id: string }) => c.id === "archive-normalization",
    );
    expect(archive.fix).toBe(
      "run hb verify //examples/basic/app:archive, or make the archive with an hb rule (npm_package) that fixes mtimes, owners and order",
    );
    const verified = await hb(ws, ["verify", "//examples/basic/app:archive"]);
    expect(verified.exitCode, verified.output).toBe(0);
    const after = await statuses(ws);
    expect(after.checks["archive-normalization"]).toBe("pass");
    // the verify's record is evidence of a dashboard's data, not yet of one
    expect(after.checks["slis-dashboard"]).toBe("warn");
  });

  it("fails an unsandboxed target in a release closure, sandbox and network, and says which, release.targets being a pattern", async () => {
    const ws = makeWorkspace(
      {
        "app/BUILD.ts": G + 'genrule({ name: "pkg", srcs: ["//gen:gen"], outs: ["pkg.txt"], cmd: "cat $< > $@" });\n',
        "gen/BUILD.ts": G + 'genrule({ name: "gen", outs: ["g.txt"], tags: ["no-sandbox"], cmd: "echo > $@" });\n',
        "tools/BUILD.ts": G + 'genrule({ name: "t", outs: ["t.txt"], tags: ["no-sandbox"], cmd: "echo > $@" });\n',
      },
      'export default { release: { targets: ["//app/..."] } };\n',
    );
    const check = async (id: string) =>
      json((await hb(ws, ["doctor", "--output", "json"])).stdout).checks.find((c: { id: string }) => c.id === id);
    expect(await check("actions-sandboxed")).toMatchObject({
      status: "fail",
      evidence: "//gen:gen tagged no-sandbox in a release closure",
    });
    // an unsandboxed action has the host's network, so network isolation fails (it passed) for the same target
    expect(await check("network-isolation")).toMatchObject({
      status: "fail",
      evidence: "//gen:gen tagged no-sandbox in a release closure: it runs with the host's network",
    });
    // outside the release closure, a warning
    writeFiles(ws, { "gen/BUILD.ts": G + 'genrule({ name: "gen", outs: ["g.txt"], cmd: "echo > $@" });\n' });
    expect(await check("network-isolation")).toMatchObject({
      status: "warn",
      evidence: "//tools:t tagged no-sandbox (outside release closures): it runs with the host's network",
    });
  });
});
