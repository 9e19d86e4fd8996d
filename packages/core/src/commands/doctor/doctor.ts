import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ActionGraph, NpmInstallAction } from "../../base/graph";
import { lockfileTree, npmPolicy } from "../../fetch/requests";
import { DEFAULT_SOURCE_DATE_EPOCH, type WorkspaceConfig } from "../../workspace/config";
import type { ReleaseConfig } from "../../workspace/release-config";
import { CONFIG_FILE, openWorkspace } from "../../workspace/workspace";
import { withWorkspaceConfig } from "../analyze";
import { type ReleaseSet, releaseSet } from "../release-set";
import { type KnownRecord, isBuildRecord, isVerifyRecord, readRunRecords } from "../record-kinds";

// `hb doctor`: the playbook's readiness checklist, twelve points, each judged from this
// workspace (its graph, hb.config.ts, its CI configuration) and its run records, with the
// evidence used and, when not passing, the one thing to do.

export type CheckStatus = "pass" | "warn" | "fail";

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  evidence: string;
  /** when not passing: the one thing to do */
  fix?: string;
}

export interface DoctorReport {
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  cwd: string;
  outputBase?: string;
  analyzerScript: string;
  signal: AbortSignal;
}

/** The CI configuration of the workspace: GitHub Actions workflows and GitLab CI, as text without comments. */
function ciConfig(root: string): { files: string[]; text: string } {
  const files: string[] = [];
  const workflows = join(root, ".github/workflows");
  if (existsSync(workflows)) for (const f of readdirSync(workflows).sort()) if (/\.ya?ml$/.test(f)) files.push(`.github/workflows/${f}`);
  if (existsSync(join(root, ".gitlab-ci.yml"))) files.push(".gitlab-ci.yml");
  return { files, text: files.map((f) => withoutComments(readFileSync(join(root, f), "utf8"))).join("\n") };
}

/**
 * `text` with its comments cut: from a `#` at a line's start or after a blank, outside quotes,
 * to the end of the line. That is a YAML comment, and in a script block a shell comment: either way,
 * an `hb verify` there is one CI never runs.
 */
export function withoutComments(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      let quote: string | undefined;
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (quote) {
          if (c === quote) quote = undefined;
          // a quote opens a quoted string at a word's start; an apostrophe in one (it's) does not
        } else if ((c === '"' || c === "'") && (i === 0 || !/\w/.test(line[i - 1]!))) quote = c;
        else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
      }
      return line;
    })
    .join("\n");
}

/** Whether the CI configuration runs `hb <command>` (directly, through npx, or through a script). */
const runsInCi = (ci: string, command: RegExp) =>
  new RegExp(`(?:^|[\\s"'(])(?:npx |node_modules/\\.bin/)?hb ${command.source}`, "m").test(ci);

const ARCHIVE = /\.(tar|tgz|tar\.gz|tar\.xz|zip|jar|whl)$/;

interface Facts {
  config: WorkspaceConfig;
  graph: ActionGraph;
  /** hb.config.ts's release setting, checked */
  releaseConfig: ReleaseConfig | undefined;
  /** release.targets expanded, when set */
  release?: ReleaseSet;
  records: KnownRecord[];
  ci: { files: string[]; text: string };
  root: string;
}

type Judge = (f: Facts) => Omit<DoctorCheck, "id" | "title">;

const pass = (evidence: string) => ({ status: "pass" as const, evidence });
const warn = (evidence: string, fix: string) => ({ status: "warn" as const, evidence, fix });
const fail = (evidence: string, fix: string) => ({ status: "fail" as const, evidence, fix });

/** Targets tagged no-sandbox, in the release closure and outside it: they run unsandboxed, network and all (--allow-unsandboxed). */
function unsandboxedTargets(f: Facts): { inRelease: string[]; outside: string[] } {
  const labels = f.graph.targets.filter((t) => t.tags.includes("no-sandbox")).map((t) => t.label);
  const closure = f.release?.closure ?? new Set<string>();
  return { inRelease: labels.filter((l) => closure.has(l)), outside: labels.filter((l) => !closure.has(l)) };
}

const DROP_NO_SANDBOX_IN_RELEASE = "drop the no-sandbox tag of every target a release artifact depends on";

const CHECKS: readonly { id: string; title: string; judge: Judge }[] = [
  {
    id: "toolchains-pinned",
    title: "Toolchains pinned by digest",
    judge: (f) => {
      const run = f.graph.actions.filter((a) => a.kind === "run");
      const evidence = `${run.length} commands; ${new Set(run.flatMap((a) => a.toolchains.map((t) => t.path))).size} pinned programs; sandbox ${f.config.sandbox ?? "default"}`;
      return f.config.sandbox === "strict"
        ? pass(`${evidence}: only declared toolchains are visible to actions`)
        : warn(
            `${evidence}: actions can run any program of the system directories, unpinned`,
            `set sandbox: "strict" in ${CONFIG_FILE}, and declare every program actions run as a toolchain`,
          );
    },
  },
  {
    id: "dependencies-locked",
    title: "Dependency lock and checksums enforced",
    judge: (f) => {
      const installs = f.graph.actions.filter((a): a is NpmInstallAction => a.kind === "npm_install");
      const allowed = f.config.npm?.allowUnpinned ?? [];
      const problems: string[] = [];
      for (const a of installs) {
        try {
          lockfileTree(a, f.root, npmPolicy(f.config.npm, f.root));
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      if (problems.length > 0)
        return fail(
          `${installs.length} lockfiles; ${problems[0]}`,
          "install from the registry (a tarball is pinned by its integrity, or on first fetch in hb.lock.json), or fix what it names",
        );
      const lockless =
        existsSync(join(f.root, "package.json")) &&
        !["package-lock.json", "pnpm-lock.yaml", "yarn.lock"].some((l) => existsSync(join(f.root, l)));
      if (lockless)
        return fail(
          "package.json has no lockfile beside it",
          "commit a lockfile (npm install writes package-lock.json) and build node_modules with npm_deps",
        );
      if (allowed.length > 0)
        return warn(
          `${installs.length} lockfiles checked; npm.allowUnpinned leaves ${allowed.join(", ")} out of the tree (their source is git or file:)`,
          "install them from the registry and empty npm.allowUnpinned",
        );
      return pass(
        `${installs.length} lockfiles, every entry pinned by integrity (the lockfile's, or hb.lock.json's on first fetch) and checked by the fetch step`,
      );
    },
  },
  {
    id: "actions-sandboxed",
    title: "Actions sandboxed",
    judge: (f) => {
      const { inRelease, outside } = unsandboxedTargets(f);
      if (inRelease.length > 0) return fail(`${inRelease.join(", ")} tagged no-sandbox in a release closure`, DROP_NO_SANDBOX_IN_RELEASE);
      if (outside.length > 0)
        return warn(
          `${outside.join(", ")} tagged no-sandbox (outside release closures)`,
          "drop no-sandbox tags where a sandbox will do; they run only with --allow-unsandboxed",
        );
      return pass(`${f.graph.actions.length} actions, every one in the bwrap sandbox`);
    },
  },
  {
    id: "network-isolation",
    title: "Network isolation",
    judge: (f) => {
      // an unsandboxed action shares the host's network: whatever it downloads is pinned by nothing
      const { inRelease, outside } = unsandboxedTargets(f);
      if (inRelease.length > 0)
        return fail(
          `${inRelease.join(", ")} tagged no-sandbox in a release closure: it runs with the host's network`,
          DROP_NO_SANDBOX_IN_RELEASE,
        );
      if (outside.length > 0)
        return warn(
          `${outside.join(", ")} tagged no-sandbox (outside release closures): it runs with the host's network`,
          "drop no-sandbox tags where a sandbox will do, and fetch what they download as pinned inputs (http_file, npm_deps)",
        );
      const pins = f.graph.actions.filter((a) => a.kind === "fetch" || a.kind === "npm_install").length;
      return pass(`actions run with no network (bwrap --unshare-all); the fetch step is the one download, of ${pins} pinned inputs`);
    },
  },
  {
    id: "source-date-epoch",
    title: "SOURCE_DATE_EPOCH in release builds",
    judge: (f) =>
      pass(
        `every action gets SOURCE_DATE_EPOCH=${f.config.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH} (commit time only for actions declaring stamp under --stamp)`,
      ),
  },
  {
    id: "archive-normalization",
    title: "Archive timestamp normalization",
    judge: (f) => {
      const verified = new Set(
        f.records.filter(isVerifyRecord).flatMap((r) => r.targets.filter((t) => t.status === "reproducible").map((t) => t.label)),
      );
      const made = f.graph.actions.filter((a) => a.kind === "run" && a.mnemonic === "Genrule" && a.outputs.some((o) => ARCHIVE.test(o)));
      const unverified = made.filter((a) => !verified.has(a.owner));
      if (unverified.length > 0) {
        return warn(
          `${unverified.map((a) => a.owner).join(", ")} ${unverified.length === 1 ? "makes an archive" : "make archives"} outside hb's rules and were never verified reproducible`,
          `run hb verify ${unverified[0]!.owner}, or make the archive with an hb rule (npm_package) that fixes mtimes, owners and order`,
        );
      }
      return pass(
        `${made.length} archives made outside hb's rules, all verified reproducible; hb's own rules sort entries and fix mtime, uid, gid and modes`,
      );
    },
  },
  {
    id: "stable-environment",
    title: "Stable locale, time zone and file order",
    judge: () =>
      pass(
        "hb fixes TZ=UTC, LC_ALL=LANG=C.UTF-8, HOME, hostname, umask 022 and the staged inputs' order and dates for every action (docs/ARCHITECTURE.md, Determinism)",
      ),
  },
  {
    id: "rebuild-in-ci",
    title: "Rebuild-and-compare in CI",
    judge: (f) => {
      if (runsInCi(f.ci.text, /verify/)) return pass(`${f.ci.files.join(", ")} runs hb verify`);
      if (f.records.some((r) => r.command === "verify"))
        return warn(
          "hb verify has run here, but no CI configuration runs it",
          "add hb verify of the release targets to CI (examples/ci/release.yml)",
        );
      return fail(
        f.ci.files.length
          ? `${f.ci.files.join(", ")} never runs hb verify`
          : "no CI configuration found (.github/workflows, .gitlab-ci.yml)",
        "run hb verify of the release targets in CI (examples/ci/release.yml)",
      );
    },
  },
  {
    id: "signed-provenance",
    title: "Signed provenance for release artifacts",
    judge: (f) => {
      const release = f.releaseConfig;
      if (!release)
        return fail(
          `no release setting in ${CONFIG_FILE}: nothing says which outputs are release artifacts`,
          `name them in ${CONFIG_FILE} (release: { targets: ["//app:package"] }) and build them with --provenance in CI (examples/ci/release.yml)`,
        );
      if (runsInCi(f.ci.text, /build[^\n]*--provenance/)) return pass(`${f.ci.files.join(", ")} builds with --provenance`);
      const signed = f.records.some((r) => isBuildRecord(r) && (r.attestations ?? []).length > 0);
      if (signed)
        return warn(
          "release artifacts were signed here, but no CI configuration signs them",
          "build the release targets with --provenance in CI (examples/ci/release.yml)",
        );
      return fail(
        "no build signs provenance for the release targets",
        `build ${release.targets.join(" ")} with --provenance --signing-key in CI`,
      );
    },
  },
  {
    id: "independent-rebuild",
    title: "Independent rebuild verification",
    judge: (f) => {
      const policy = f.releaseConfig?.policy;
      const attested = runsInCi(f.ci.text, /verify[^\n]*--attest/);
      if (attested && (policy?.corroboration ?? 1) >= 2)
        return pass(`an independent rebuilder signs in CI, and release.policy.corroboration is ${policy!.corroboration}`);
      if (attested)
        return warn(
          "a rebuilder signs in CI, but the policy does not require its agreement",
          "trust the rebuilder's key in release.policy.builders and set release.policy.corroboration to 2",
        );
      return fail(
        "no independent rebuilder signs what it rebuilt",
        "run hb verify --attest on another runner with another key (examples/ci/release.yml), trust that key in release.policy.builders and set release.policy.corroboration to 2",
      );
    },
  },
  {
    id: "slis-dashboard",
    title: "SLIs on a dashboard",
    judge: (f) => {
      if (runsInCi(f.ci.text, /report/)) return pass(`${f.ci.files.join(", ")} runs hb report`);
      if (f.records.length > 0)
        return warn(
          `${f.records.length} run records here, but no CI configuration publishes the SLIs`,
          "run hb report --runs <the CI's report artifacts> --output html in CI and publish the page",
        );
      return fail("no run records and no hb report in CI", "keep CI's --report files as artifacts and run hb report --runs on them in CI");
    },
  },
  {
    id: "release-gate",
    title: "Release gate wired",
    judge: (f) => {
      const policy = f.releaseConfig?.policy;
      if (!policy)
        return fail(
          `no release.policy in ${CONFIG_FILE}`,
          `write release.policy (builders and their keys) in ${CONFIG_FILE}, and run hb gate on the release artifacts in CI (examples/ci/release.yml)`,
        );
      if (runsInCi(f.ci.text, /gate/)) return pass(`${f.ci.files.join(", ")} runs hb gate against release.policy`);
      return fail(
        "release.policy is written, but no CI configuration runs hb gate",
        "run hb gate on the release artifacts in the release job (examples/ci/release.yml)",
      );
    },
  },
];

/** `hb doctor`: the twelve points, in the playbook's order. */
export async function doctor(opts: DoctorOptions): Promise<DoctorReport> {
  const workspace = openWorkspace({ cwd: opts.cwd, outputBase: opts.outputBase });
  // patterns are read from the workspace root, wherever hb doctor runs
  const session = { ...opts, cwd: workspace.root, patterns: ["//..."] };
  const facts: Facts = await withWorkspaceConfig(workspace, session, async ({ config, release, first, analyze }) => ({
    config,
    releaseConfig: release,
    graph: first.graph,
    ...(release && release.targets.length > 0 ? { release: releaseSet((await analyze(release.targets)).graph) } : {}),
    records: readRunRecords(workspace.outputBase).records,
    ci: ciConfig(workspace.root),
    root: workspace.root,
  }));
  return { checks: CHECKS.map((c) => ({ id: c.id, title: c.title, ...c.judge(facts) })) };
}
