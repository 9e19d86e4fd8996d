import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hb, makeWorkspace } from "./helpers";

// hb verify rebuilds from scratch under varied conditions; each action below embeds one thing a
// second machine would see differently. The sandbox must hide some; verify must catch the rest
// and name the right action and file.

const G = 'import { genrule, filegroup, glob } from "@hb/core";\n';
const files: Record<string, string> = {};
for (let i = 0; i < 12; i++) files[`p/dir/f${i}.txt`] = `${i}\n`;

const ws = () =>
  makeWorkspace({
    ...files,
    "p/BUILD.ts":
      G +
      [
        'genrule({ name: "det", srcs: ["dir/f1.txt"], outs: ["det.txt"], cmd: "sort $< > $@; echo done >> $@" })',
        'genrule({ name: "clock", outs: ["clock.txt"], cmd: "echo header > $@; date +%s%N >> $@" })',
        'genrule({ name: "random", outs: ["random.bin"], cmd: "head -c 16 /dev/urandom > $@" })',
        'genrule({ name: "host", outs: ["host.txt"], cmd: "hostname > $@; uname -n >> $@" })',
        'genrule({ name: "where", outs: ["where.txt"], cmd: "pwd > $@; echo $$TMPDIR $$HOME >> $@" })',
        'filegroup({ name: "many", srcs: glob(["dir/*.txt"]) })',
        'genrule({ name: "order", srcs: [":many"], outs: ["order.txt"], cmd: "ls -f p/dir > $@" })',
        'genrule({ name: "zone", outs: ["zone.txt"], cmd: "date -d @86399 > $@; echo $$TZ $$LANG >> $@; umask >> $@" })',
        'genrule({ name: "step1", outs: ["step1.txt"], cmd: "echo $$RANDOM$$RANDOM > $@" })',
        'genrule({ name: "step2", srcs: [":step1"], outs: ["step2.txt"], cmd: "wc -c < $< > $@" })',
        'genrule({ name: "tarball", srcs: ["dir/f1.txt", "dir/f2.txt"], outs: ["t.tar"], cmd: "date +%N > $$TMPDIR/stamp.txt; tar --sort=name -cf $@ $(SRCS) -C $$TMPDIR stamp.txt" })',
        'genrule({ name: "dated", srcs: ["dir/f1.txt"], outs: ["d.tar"], cmd: "tar --sort=name -cf $@ $(SRCS)" })',
        // fails where the directory lists f0.txt first: in one run, not the other
        'genrule({ name: "flaky", srcs: [":many"], outs: ["flaky.txt"], cmd: "test $$(ls -f p/dir | grep txt | head -1) != f0.txt; echo ok > $@" })',
      ].join(";\n") +
      ";\n",
  });

async function verifyReport(dir: string, targets: string[], extra: string[] = []) {
  const r = await hb(dir, ["verify", ...targets, "--report", "verify.json", ...extra]);
  const report = JSON.parse(readFileSync(join(dir, "verify.json"), "utf8"));
  return { r, report };
}

describe("hb verify", () => {
  it("passes a deterministic genrule, and what the sandbox fixes: hostname, paths, TZ, locale, umask", async () => {
    const dir = ws();
    const { r, report } = await verifyReport(dir, ["//p:det", "//p:host", "//p:where", "//p:zone"]);
    expect(r.exitCode, r.output).toBe(0);
    expect(report.passRate).toBe(1);
    expect(report.targets.map((t: { status: string }) => t.status)).toEqual([
      "reproducible",
      "reproducible",
      "reproducible",
      "reproducible",
    ]);
    expect(r.stderr).toContain("reproducibility: 4/4 targets (100.0%)");
  });

  it("catches the wall clock, randomness and readdir order, naming the action and file", async () => {
    const dir = ws();
    const { r, report } = await verifyReport(dir, ["//p:clock", "//p:random", "//p:order", "//p:det"]);
    expect(r.exitCode).toBe(1);
    expect(report.reproducible).toBe(1);
    expect(report.passRate).toBe(0.25);
    const byLabel = Object.fromEntries(report.divergences.map((d: { label: string }) => [d.label, d]));
    expect(Object.keys(byLabel).sort()).toEqual(["//p:clock", "//p:order", "//p:random"]);
    const clock = byLabel["//p:clock"].files[0];
    expect(clock.path).toBe("hb-out/p/clock.txt");
    expect(clock.firstDifferingByte).toBeGreaterThanOrEqual(7);
    expect(clock.textDiff).toMatch(/^- \d+$/m);
    expect(byLabel["//p:random"].files[0].path).toBe("hb-out/p/random.bin");
    expect(byLabel["//p:order"].files[0].textDiff).toContain("f1");
    expect(r.stderr).toContain("//p:clock: Genrule wrote different outputs from the same inputs");
    expect(r.stderr).toContain("command: echo header > hb-out/p/clock.txt; date +%s%N >> hb-out/p/clock.txt");
  });

  it("counts an action that fails under one run's conditions only as not reproducible, naming the run", async () => {
    const dir = ws();
    const { r, report } = await verifyReport(dir, ["//p:flaky", "//p:det"]);
    expect(r.exitCode).toBe(1);
    expect(report.targets.map((t: { status: string }) => t.status)).toEqual(["not reproducible", "reproducible"]);
    expect(report.failures).toEqual([]);
    expect(report.actions).toEqual({ compared: 2, diverged: 1 });
    expect(report.divergences).toHaveLength(1);
    expect(report.divergences[0]).toMatchObject({
      label: "//p:flaky",
      files: [],
      failed: { message: expect.stringContaining("exited with code 1") },
    });
    expect(r.stderr).toMatch(/\/\/p:flaky: Genrule failed in run 2 \(varied: .*\) and succeeded in run 1\n {2}command: test /);
  });

  it("catches the output base's absolute path without the sandbox, and passes it with the sandbox", async () => {
    const dir = ws();
    const sandboxed = await verifyReport(dir, ["//p:where"]);
    expect(sandboxed.r.exitCode, sandboxed.r.output).toBe(0);
    const none = await verifyReport(dir, ["//p:where"], ["--sandbox=none"]);
    expect(none.r.exitCode).toBe(1);
    expect(none.report.divergences[0].label).toBe("//p:where");
    expect(none.report.divergences[0].files[0].textDiff).toMatch(/hb-verify-.*run-1/);
  });

  it("reports the first step of a chain, not the step that only inherited the difference", async () => {
    const dir = ws();
    const { r, report } = await verifyReport(dir, ["//p:step2"]);
    expect(r.exitCode).toBe(1);
    expect(report.targets).toEqual([
      {
        label: "//p:step2",
        status: "not reproducible",
        runs: 2,
        firstDivergence: "//p:step1",
        // the artifact the verdict is about, as the first run made it
        outputs: [{ path: "hb-out/p/step2.txt", sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }],
      },
    ]);
    expect(report.divergences.map((d: { label: string }) => d.label)).toEqual(["//p:step1"]);
  });

  it("names the differing archive entries and fields", async () => {
    const dir = ws();
    const { report } = await verifyReport(dir, ["//p:tarball"]);
    const diff = report.divergences[0].files[0];
    expect(diff.archive).toContainEqual(expect.stringMatching(/^entry stamp\.txt: sha256 [0-9a-f]{64} vs [0-9a-f]{64}$/));
    expect(diff.archive.join("\n")).not.toContain("dir/f1.txt");
  });

  it("passes an archive of inputs made without --mtime: the sandbox dates every input SOURCE_DATE_EPOCH", async () => {
    const dir = ws();
    const { r } = await verifyReport(dir, ["//p:dated"]);
    expect(r.exitCode, r.output).toBe(0);
  });
});
