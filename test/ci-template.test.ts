// examples/ci/release.yml: a workflow a team can copy. It is read with a YAML parser (Python's,
// not hb's code), its jobs checked for the playbook's shape, and every hb command it runs is
// checked to exist with every flag it passes, against the built CLI's --help.
import { execa } from "execa";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HB, REPO } from "./helpers";

interface Step {
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface Job {
  "runs-on": string;
  needs?: string[];
  if?: string;
  steps: Step[];
}

function workflow(): { jobs: Record<string, Job> } {
  const r = spawnSync(
    "python3",
    ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", join(REPO, "examples/ci/release.yml")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) {
    throw new Error(/No module named 'yaml'/.test(r.stderr) ? "needs Python's yaml: bash scripts/system-deps.sh --test" : r.stderr);
  }
  return JSON.parse(r.stdout);
}

/** Each `hb ...` command of the run scripts, continuation lines joined, as words. */
function hbCommands(jobs: Record<string, Job>): { job: string; words: string[] }[] {
  const out: { job: string; words: string[] }[] = [];
  for (const [job, j] of Object.entries(jobs)) {
    for (const step of j.steps) {
      for (const line of (step.run ?? "").replace(/\\\n/g, " ").split("\n")) {
        const m = /(?:^|\s)(?:npx )?hb\s+(.*)$/.exec(line);
        if (m) out.push({ job, words: m[1]!.split(/\s+/).filter((w) => w !== "") });
      }
    }
  }
  return out;
}

describe("examples/ci/release.yml", () => {
  const { jobs } = workflow();

  it("wires the four phases: build, an independent rebuild on another image, the gate, and the report", () => {
    expect(Object.keys(jobs)).toEqual(["build", "rebuild", "gate", "report"]);
    expect(jobs.rebuild!["runs-on"]).not.toBe(jobs.build!["runs-on"]);
    expect(jobs.rebuild!.needs).toBeUndefined();
    expect(jobs.gate!.needs).toEqual(["build", "rebuild"]);
    expect(jobs.report!.needs).toEqual(["build", "rebuild", "gate"]);
    expect(jobs.report!.if).toBe("always()");
    // the rebuilder shares nothing with the build but the commit: no cache, no artifact of the build
    const rebuildUses = jobs.rebuild!.steps.map((s) => s.uses ?? "");
    expect(rebuildUses.some((u) => u.startsWith("actions/cache") || u.startsWith("actions/download-artifact"))).toBe(false);
    const commands = hbCommands(jobs).map((c) => `${c.job}: hb ${c.words.slice(0, 2).join(" ")}`);
    expect(commands).toEqual([
      "build: hb build $TARGETS",
      'build: hb explain "$ARTIFACT"',
      "rebuild: hb verify $TARGETS",
      'gate: hb gate "$ARTIFACT"',
      "report: hb report --runs",
    ]);
  });

  it("draws the dashboard from the records of earlier runs too, kept in the Actions cache, the build's explain among them", () => {
    const steps = jobs.report!.steps;
    const report = hbCommands({ report: jobs.report! }).find((c) => c.words[0] === "report")!.words;
    const runs = report[report.indexOf("--runs") + 1];
    const cached = (action: string) => steps.find((s) => s.uses?.startsWith(`actions/cache/${action}@`))?.with?.path;
    expect([cached("restore"), cached("save")]).toEqual([runs, runs]);
    // the build job explains the artifact it built and keeps the record of it with its report
    const upload = jobs.build!.steps.find((s) => s.with?.name === "report-build")!.with!.path!;
    expect(upload.split("\n").filter(Boolean)).toEqual(["build-report.json", "build-records.jsonl"]);
  });

  it("takes keys only from the platform's secrets, each through an env variable, one per role", () => {
    const text = JSON.stringify(jobs);
    expect(text).not.toContain("PRIVATE KEY");
    const secrets = Object.values(jobs).flatMap((j) =>
      j.steps.flatMap((s) => Object.entries(s.env ?? {}).filter(([, v]) => v.includes("secrets."))),
    );
    expect(secrets).toEqual([
      ["HB_BUILD_KEY", "${{ secrets.HB_BUILD_KEY }}"],
      ["HB_REBUILD_KEY", "${{ secrets.HB_REBUILD_KEY }}"],
      ["HB_GATE_KEY", "${{ secrets.HB_GATE_KEY }}"],
    ]);
    // no secret or workflow input is spliced into a script, where it would be shell code
    for (const j of Object.values(jobs))
      for (const s of j.steps) expect(s.run ?? "").not.toMatch(/\$\{\{\s*(secrets|github\.event|inputs)\./);
  });

  it("runs hb commands that exist, with flags each of them takes", async () => {
    const commands = hbCommands(jobs);
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const { job, words } of commands) {
      const command = words[0]!;
      const help = await execa(process.execPath, [HB, command, "--help"], { reject: false });
      expect(help.exitCode, `${job}: hb ${command} --help`).toBe(0);
      for (const flag of words.filter((w) => w.startsWith("--"))) {
        expect(help.stdout, `${job}: hb ${command} ${flag}`).toMatch(new RegExp(`\\s${flag}(\\s|$)`, "m"));
      }
    }
  });
});
