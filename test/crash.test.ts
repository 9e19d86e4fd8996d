// Crash consistency of the local stores, as SQLite's crash tests do it: `hb build` killed with
// SIGKILL at a random moment, again and again (while it analyzes and stages, while actions run,
// while outputs go into the CAS, while the action cache and stat cache are written, while
// outputs are materialized), then built again: the build must succeed, every output must be
// byte for byte what a clean build makes, and every CAS blob must hash to its name.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prng } from "../packages/cache-server/src/testing/stress";
import { figure, suiteSize } from "../packages/cache-server/src/testing/suite-size";
import { HB, hb, makeWorkspace, summary, tempDir } from "./helpers";

const PACKAGES = suiteSize(6, 20);
const RULES = suiteSize(10, 15);
const KILLS = suiteSize(12, 200);

const G = 'import { genrule } from "@hb/core";\n';

/**
 * PACKAGES x RULES genrules, each reading its own source and the same rule of the package before
 * (a chain as deep as there are packages), writing 1 KiB to 1 MiB; every third output executable.
 * `edited` sources carry another line: the "edited" tree.
 */
function workspaceFiles(edited: boolean): Record<string, string> {
  const files: Record<string, string> = {};
  for (let p = 0; p < PACKAGES; p++) {
    let build = G;
    for (let r = 0; r < RULES; r++) {
      const size = 1024 * 2 ** ((p * RULES + r) % 11);
      const srcs = [`"r${r}.txt"`, ...(p > 0 ? [`"//p${p - 1}:r${r}"`] : [])];
      const chmod = r % 3 === 0 ? "; chmod +x $@" : "";
      build += `genrule({ name: "r${r}", srcs: [${srcs.join(", ")}], outs: ["r${r}.out"], cmd: "(cat $(SRCS) | sha256sum; { yes $$(cat $(SRCS) | md5sum) || true; } | head -c ${size}) > $@${chmod}" });\n`;
      files[`p${p}/r${r}.txt`] = `source ${p}/${r}\n${edited && (p + r) % 4 === 0 ? "edited\n" : ""}`;
    }
    files[`p${p}/BUILD.ts`] = build;
  }
  return files;
}

/** hb-out/ as relative path -> sha256 and executable bit; fails on anything but files and directories. */
function outputsOf(ws: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path, `${rel}${e.name}/`);
      else if (e.isFile()) {
        const exec = (lstatSync(path).mode & 0o100) !== 0 ? "x" : "-";
        out.set(`${rel}${e.name}`, `${exec}${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
      } else throw new Error(`${rel}${e.name} is neither a file nor a directory`);
    }
  };
  walk(join(ws, "hb-out"), "");
  return out;
}

/** CAS blobs whose bytes do not hash to their name. */
function corruptBlobs(ws: string): string[] {
  const cas = join(ws, ".hb", "cas");
  const bad: string[] = [];
  if (!existsSync(cas)) return bad;
  for (const prefix of readdirSync(cas)) {
    if (prefix === "tmp") continue;
    for (const name of readdirSync(join(cas, prefix))) {
      const hash = createHash("sha256")
        .update(readFileSync(join(cas, prefix, name)))
        .digest("hex");
      if (hash !== name.replace(/\.x$/, "")) bad.push(`${prefix}/${name}`);
    }
  }
  return bad;
}

interface Killed {
  /** false when the build ended before the kill came: nothing was killed */
  killed: boolean;
  /** how long it ran */
  ms: number;
  /** when its first action started, if one did */
  firstActionMs?: number;
  /** actions the killed build had started when it died, and how many it had */
  started: number;
  total: number;
  afterSummary: boolean;
}

/** Starts `hb build //...`, kills it with SIGKILL after `ms`; what it had printed by then says where it was. */
async function buildKilledAfter(ws: string, ms: number): Promise<Killed> {
  const t = Date.now();
  const child: ChildProcess = spawn(process.execPath, [HB, "build", "//...", "--jobs", "2"], {
    cwd: ws,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  let firstActionMs: number | undefined;
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
    if (firstActionMs === undefined && /^\[\d+\/\d+\]/m.test(err)) firstActionMs = Date.now() - t;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(timer);
  const progress = [...err.matchAll(/^\[(\d+)\/(\d+)\]/gm)];
  const last = progress.at(-1);
  return {
    killed: child.signalCode === "SIGKILL",
    ms: Date.now() - t,
    firstActionMs,
    started: last ? Number(last[1]) : 0,
    total: last ? Number(last[2]) : 0,
    afterSummary: /hb: \d+ actions:/.test(err),
  };
}

describe("hb build killed with SIGKILL at random moments", () => {
  it(`survives ${KILLS} kills over a build of ${PACKAGES * RULES} actions: every rebuild succeeds with a clean build's outputs, and the CAS holds only whole blobs`, async () => {
    // what clean builds make, of the tree as it is and as edited
    const reference = new Map<boolean, Map<string, string>>();
    const durations = new Map<boolean, number>();
    for (const edited of [false, true]) {
      const clean = makeWorkspace(workspaceFiles(edited));
      const t = Date.now();
      const r = await hb(clean, ["build", "//...", "--jobs", "2"]);
      durations.set(edited, Date.now() - t);
      expect(r.exitCode, r.output).toBe(0);
      expect(summary(r).actions).toBe(PACKAGES * RULES);
      reference.set(edited, outputsOf(clean));
      rmSync(clean, { recursive: true, force: true });
    }
    expect(reference.get(true)).not.toEqual(reference.get(false));

    const ws = makeWorkspace(workspaceFiles(false));
    const keep = tempDir();
    const rand = prng(2121);
    let edited = false;
    const phases = { beforeActions: 0, duringActions: 0, afterActions: 0, restoring: 0 };
    const perturbations = { fromScratch: 0, edit: 0, restore: 0 };
    let survived = 0;
    let finishedFirst = 0;
    /** how long the last build took to start its first action */
    let analysisMs = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      // what the killed build has to do: everything, the edited actions, or materializing alone
      const roll = rand();
      const kind = roll < 0.3 ? "fromScratch" : roll < 0.75 ? "edit" : "restore";
      const perturb = () => {
        if (kind !== "edit") rmSync(join(ws, "hb-out"), { recursive: true, force: true });
        if (kind === "fromScratch") rmSync(join(ws, ".hb"), { recursive: true, force: true });
        if (kind === "edit") {
          edited = !edited;
          for (const [name, content] of Object.entries(workspaceFiles(edited)))
            if (name.endsWith(".txt")) writeFileSync(join(ws, name), content);
        }
      };
      perturb();
      perturbations[kind]++;
      // most kills land once actions run (analysis is cached, and only reads), the rest anywhere
      const when = (limit: number) => (rand() < 0.6 ? analysisMs + rand() * Math.max(0, limit - analysisMs) : rand() * limit);
      let killed = await buildKilledAfter(ws, when(durations.get(edited)! + 1500));
      // a build that ended before its kill killed nothing: the same again, killed sooner
      while (!killed.killed) {
        finishedFirst++;
        if (killed.firstActionMs !== undefined) analysisMs = killed.firstActionMs;
        perturb();
        killed = await buildKilledAfter(ws, when(killed.ms));
      }
      if (killed.firstActionMs !== undefined) analysisMs = killed.firstActionMs;
      // a restore runs no action (no progress lines): its kills land in analysis or materializing
      if (kind === "restore") phases.restoring++;
      else if (killed.started === 0) phases.beforeActions++;
      else if (killed.afterSummary || killed.started >= killed.total) phases.afterActions++;
      else phases.duringActions++;

      const again = await hb(ws, ["build", "//...", "--jobs", "2"]);
      const outputs = existsSync(join(ws, "hb-out")) ? outputsOf(ws) : new Map();
      const corrupt = corruptBlobs(ws);
      const right =
        again.exitCode === 0 && corrupt.length === 0 && JSON.stringify([...outputs]) === JSON.stringify([...reference.get(edited)!]);
      if (!right) cpSync(ws, join(keep, `kill-${kill}`), { recursive: true });
      expect(again.exitCode, `after kill ${kill} (${JSON.stringify(killed)}):\n${again.output}`).toBe(0);
      expect(corrupt, `after kill ${kill}`).toEqual([]);
      expect(new Map([...outputs].filter(([p, h]) => reference.get(edited)!.get(p) !== h)), `after kill ${kill}`).toEqual(new Map());
      expect([...outputs.keys()].sort(), `after kill ${kill}: stray or missing files in hb-out/`).toEqual(
        [...reference.get(edited)!.keys()].sort(),
      );
      survived++;
    }
    figure(
      "build-crash",
      `${survived}/${KILLS} kills survived, 0 wrong outputs, 0 corrupt blobs (${PACKAGES * RULES} actions; killed before the first action ${phases.beforeActions}, while actions ran ${phases.duringActions}, after the last one started ${phases.afterActions}, while restoring hb-out/ ${phases.restoring}; builds from scratch ${perturbations.fromScratch}, after an edit ${perturbations.edit}, restores ${perturbations.restore}; ${finishedFirst} builds that ended before their kill were not counted)`,
    );
  }, 3_600_000);
});
