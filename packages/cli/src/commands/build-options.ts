import { type BuildOptions, type BuildReport, HbError, SANDBOX_MODES, type SandboxMode } from "@hb/core/engine";
import { type OptionSpec, type OptionValues, choiceOption, intOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import type { Terminal } from "../ui/terminal";
import { HB_VERSION } from "../version";

/** Flags every command that builds shares (build, test, run, verify). */
export const BUILD_OPTIONS: Record<string, OptionSpec> = {
  jobs: { type: "string", short: "j", valueName: "N", description: "run at most N actions at once (default: the number of cores)" },
  "keep-going": { type: "boolean", short: "k", description: "after a failure, build everything that does not depend on it" },
  sandbox: {
    type: "string",
    valueName: "MODE",
    description: "default | strict | none (none: no sandbox at all, visibly; results are keyed apart and never uploaded)",
  },
  "allow-unsandboxed": {
    type: "boolean",
    description: "run targets tagged no-sandbox unsandboxed (they see all this machine shows you; never for an untrusted change)",
  },
  stamp: { type: "boolean", description: "give actions that declare stamp: true the commit time and id" },
  report: { type: "string", valueName: "FILE", description: "write the build summary as JSON to FILE" },
  "output-base": { type: "string", valueName: "DIR", description: "keep hb's state (caches, sandboxes) in DIR instead of <workspace>/.hb" },
};

/** The audit, for hb build and hb test: what their actions reach beyond what they declare. */
export const AUDIT_OPTION: Record<string, OptionSpec> = {
  audit: {
    type: "boolean",
    description: "re-run every action under strace (cache bypassed) and report files and network it reaches outside its declarations",
  },
};

/** The audit's findings, one line each, and their count. */
export function printAudit(term: Terminal, report: BuildReport): void {
  if (!report.audit) return;
  for (const a of report.audit) {
    for (const r of a.reads) term.line(`AUDIT: ${a.label} read ${r}`);
    for (const c of a.connects) term.line(`AUDIT: ${a.label} connected to ${c}`);
  }
  term.line(`hb: audit: ${report.hermeticViolations} hermeticity violations in ${report.audit.length} actions`);
}

/** The team cache's flags, the same for hb build and hb test (whose results it also caches). */
export const REMOTE_OPTIONS: Record<string, OptionSpec> = {
  "remote-cache": {
    type: "string",
    valueName: "URL",
    description: "team cache: http(s):// (Bazel's HTTP protocol) or grpc(s):// (REAPI); token from HB_CACHE_TOKEN",
  },
  "remote-executor": {
    type: "string",
    valueName: "URL",
    description: "run actions on a REAPI executor, grpc(s)://HOST:PORT (also the cache when --remote-cache is not given)",
  },
  "remote-ca": { type: "string", valueName: "PEM", description: "the CA that signed a grpcs:// server's certificate" },
  "remote-instance": { type: "string", valueName: "NAME", description: "the cache instance uploads go to (e.g. pr-123)" },
  "remote-read-instance": {
    type: "string",
    multiple: true,
    valueName: "NAME",
    description: "an instance to read from, in order (e.g. pr-123 then main)",
  },
  "remote-upload": { type: "boolean", description: "upload sandboxed results, signed with --signing-key (meant for CI)" },
  "trusted-key": { type: "string", multiple: true, valueName: "FILE", description: "a public key (PEM) whose cache entries are accepted" },
  "exec-property": {
    type: "string",
    multiple: true,
    valueName: "NAME=VALUE",
    description: "a REAPI platform property of every action, over hb.config.ts's execProperties (in the action key)",
  },
};

/** The build request's team cache, from REMOTE_OPTIONS and the key that signs uploads. */
export function remoteRequest(values: OptionValues, signingKey: string | undefined): NonNullable<BuildOptions["remote"]> {
  return {
    url: stringOption(values, "remote-cache"),
    instance: stringOption(values, "remote-instance"),
    readInstances: values["remote-read-instance"] as string[] | undefined,
    upload: values["remote-upload"] === true,
    signingKey,
    trustedKeys: values["trusted-key"] as string[] | undefined,
    token: process.env.HB_CACHE_TOKEN,
    executor: stringOption(values, "remote-executor"),
    caFile: stringOption(values, "remote-ca"),
    execProperties: execProperties(values["exec-property"] as string[] | undefined),
  };
}

/** --exec-property NAME=VALUE, repeated: the last one of a name wins. */
function execProperties(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new HbError("USAGE", `--exec-property '${pair}' is not NAME=VALUE`, {
        hint: "e.g. --exec-property container-image=docker://node:20",
      });
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export interface CommonBuildFlags {
  jobs?: number;
  keepGoing: boolean;
  sandbox?: SandboxMode;
  allowUnsandboxed: boolean;
  stamp: boolean;
  report?: string;
  outputBase?: string;
}

export function buildFlags(values: OptionValues): CommonBuildFlags {
  return {
    jobs: intOption(values, "jobs", 1),
    keepGoing: values["keep-going"] === true,
    sandbox: choiceOption(values, "sandbox", SANDBOX_MODES),
    allowUnsandboxed: values["allow-unsandboxed"] === true,
    stamp: values.stamp === true,
    report: stringOption(values, "report"),
    outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
  };
}

/**
 * The part of a build request the shared flags decide, the same for build, test and run; it
 * warns once when the build will run unsandboxed.
 */
export function buildRequest(
  flags: CommonBuildFlags,
  ctx: { cwd: string; patterns: string[]; signal: AbortSignal; term: Terminal; progress: BuildOptions["events"] },
): BuildOptions {
  if (flags.sandbox === "none") ctx.term.warn("--sandbox=none: actions run unsandboxed; their results are keyed apart and never uploaded");
  return {
    cwd: ctx.cwd,
    patterns: ctx.patterns,
    outputBase: flags.outputBase,
    jobs: flags.jobs,
    keepGoing: flags.keepGoing,
    sandbox: flags.sandbox,
    allowUnsandboxed: flags.allowUnsandboxed,
    stamp: flags.stamp,
    analyzerScript: ANALYZER_SCRIPT,
    signal: ctx.signal,
    events: ctx.progress,
    hbVersion: HB_VERSION,
  };
}
