import { availableParallelism } from "node:os";
import { relative, resolve } from "node:path";
import { HbError, verify, type VerifyReport } from "@hb/core/engine";
import { type Command, intOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import { checkReportFile, writeReportAfter } from "../ui/report-file";
import { errorText, failureDetails, warningText } from "../ui/messages";
import { createTerminal, type Terminal } from "../ui/terminal";
import { HB_VERSION } from "../version";
import { BUILD_OPTIONS, buildFlags } from "./build-options";

export const verifyCommand: Command = {
  name: "verify",
  summary: "Rebuild from scratch under varied conditions and compare every action's outputs.",
  usage: "hb verify [options] <pattern>...",
  description: [
    "Builds the targets --runs times (default 2) with every cache off, each run in a fresh output base.",
    "The varied run moves the output base, stages sandboxes on a tmpfs in reverse order (another",
    "directory listing order) and changes the caller's TZ, locale, TMPDIR and umask. For each",
    "difference it names the earliest action whose inputs matched but whose outputs differed.",
    "",
    "With --attest, an independent rebuilder signs what it got: when every run agreed, an in-toto",
    "statement (SLSA provenance, hb's rebuild buildType) for each output of the targets, as",
    "<output basename>.rebuild.<key id prefix>.intoto.jsonl in --attest-dir (default: beside the",
    "output, under hb-out/). When its own runs disagree it signs nothing. Check them with",
    "hb attest verify <artifact> --attestation DIR --key ... --threshold 2, or hb gate.",
    "exit codes: 0 reproducible, 1 something is not reproducible or failed, 2 bad input",
  ].join("\n"),
  options: {
    runs: { type: "string", valueName: "N", description: "how many from-scratch builds to compare (default 2)" },
    keep: { type: "boolean", description: "keep the runs' output bases (their CAS holds both versions of each file)" },
    diffoscope: { type: "boolean", description: "also show diffoscope's comparison of differing files (apt-get install diffoscope)" },
    jobs: BUILD_OPTIONS.jobs!,
    sandbox: BUILD_OPTIONS.sandbox!,
    "allow-unsandboxed": BUILD_OPTIONS["allow-unsandboxed"]!,
    stamp: BUILD_OPTIONS.stamp!,
    report: { type: "string", valueName: "FILE", description: "write the verification as JSON to FILE" },
    "output-base": BUILD_OPTIONS["output-base"]!,
    attest: { type: "boolean", description: "sign a rebuild attestation for each output when every run agreed (with --signing-key)" },
    "signing-key": { type: "string", valueName: "FILE", description: "Ed25519 private key (PEM, from hb keygen) that signs with --attest" },
    "builder-id": {
      type: "string",
      valueName: "URI",
      description: "this rebuilder's id, as the attestations record it (default urn:hb:builder:local:<host>)",
    },
    "attest-dir": { type: "string", valueName: "DIR", description: "write the rebuild attestations in DIR (default: beside each output)" },
    "allow-dirty": { type: "boolean", description: "attest a tree with uncommitted changes (recorded as dirty)" },
    offline: { type: "boolean", description: "download nothing: every run uses the external inputs this workspace fetched (hb fetch)" },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    if (positionals.length === 0)
      throw new HbError("USAGE", "hb verify needs at least one target pattern", { hint: "e.g. hb verify //examples/..." });
    const flags = buildFlags(values);
    if (flags.report) checkReportFile(cwd, flags.report);
    const runs = intOption(values, "runs", 2) ?? 2;
    const signingKey = stringOption(values, "signing-key");
    if (values.attest === true && !signingKey) {
      throw new HbError("USAGE", "--attest needs --signing-key FILE: the rebuilder's own key", {
        hint: "create a key pair outside the workspace: hb keygen --out ~/.hb-keys",
      });
    }
    for (const flag of ["signing-key", "builder-id", "attest-dir", "allow-dirty"]) {
      if (values[flag] !== undefined && values.attest !== true) throw new HbError("USAGE", `--${flag} is for --attest`);
    }
    const attestDir = stringOption(values, "attest-dir");
    const term = createTerminal();
    const report = await verify({
      cwd,
      patterns: positionals,
      runs,
      jobs: flags.jobs ?? availableParallelism(),
      sandbox: flags.sandbox,
      allowUnsandboxed: flags.allowUnsandboxed,
      stamp: flags.stamp,
      keep: values.keep === true,
      diffoscope: values.diffoscope === true,
      outputBase: flags.outputBase,
      attest:
        values.attest === true
          ? {
              signingKey: resolve(cwd, signingKey!),
              builderId: stringOption(values, "builder-id"),
              allowDirty: values["allow-dirty"] === true,
              attestDir: attestDir === undefined ? undefined : resolve(cwd, attestDir),
              hbVersion: HB_VERSION,
            }
          : undefined,
      offline: values.offline === true,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
      events: {
        runStarted: (run, of, conditions) => term.line(`hb verify: run ${run}/${of} (${conditions})`),
        warning: (w) => term.warn(warningText(w)),
      },
    });
    printReport(term, report);
    if (report.attestations) {
      for (const a of report.attestations) term.line(`hb: rebuild attestation: ${relative(cwd, a)}`);
      if (report.attestations.length === 0) term.line("hb verify: not signing: this builder's own runs did not agree (or failed)");
    }
    const exitCode = report.reproducible === report.total && report.failures.length === 0 ? 0 : 1;
    return flags.report ? writeReportAfter(term, cwd, flags.report, report, exitCode) : exitCode;
  },
};

function printReport(term: Terminal, r: VerifyReport): void {
  const rows = r.targets.map((t) => [
    t.label,
    t.status === "reproducible" ? "reproducible" : t.status.toUpperCase(),
    String(t.runs),
    t.firstDivergence ?? "-",
  ]);
  const head = ["target", "status", "runs", "first divergence"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const lines = [fmt(head), ...rows.map(fmt)];
  for (const d of r.divergences) {
    if (d.failed) {
      lines.push(
        "",
        `${d.label}: ${d.mnemonic} failed in run ${d.run} (${d.failed.conditions}) and succeeded in run ${d.failed.succeededIn}`,
        `  command: ${d.command}`,
      );
      for (const l of failureDetails(d.failed.error).join("\n").split("\n")) if (!/^\s*command: /.test(l)) lines.push(`  ${l}`);
      continue;
    }
    lines.push(
      "",
      `${d.label}: ${d.mnemonic} wrote different outputs from the same inputs (run 1 vs run ${d.run})`,
      `  command: ${d.command}`,
    );
    for (const f of d.files) {
      const a = f.run1 ? `${f.run1.sha256.slice(0, 12)}… (${f.run1.size} bytes)` : "missing";
      const b = f.other ? `${f.other.sha256.slice(0, 12)}… (${f.other.size} bytes)` : "missing";
      lines.push(
        `  ${f.path}: ${a} vs ${b}${f.firstDifferingByte !== undefined ? `, first difference at byte ${f.firstDifferingByte}` : ""}`,
      );
      for (const l of f.archive ?? []) lines.push(`    ${l}`);
      if (f.textDiff) for (const l of f.textDiff.split("\n")) lines.push(`    ${l}`);
      if (f.diffoscope) for (const l of f.diffoscope.split("\n")) lines.push(`    ${l}`);
    }
  }
  for (const e of r.failures) lines.push("", errorText(e));
  const pct = (r.passRate * 100).toFixed(1);
  lines.push(
    "",
    `reproducibility: ${r.reproducible}/${r.total} targets (${pct}%), ${r.actions.diverged} of ${r.actions.compared} actions diverged; ` +
      `runs ${r.runDurationsMs.map((ms) => (ms / 1000).toFixed(2)).join(" + ")} s, compare ${(r.compareMs / 1000).toFixed(2)} s`,
  );
  if (r.outputBases.length > 0) lines.push(`output bases kept: ${r.outputBases.join(" ")}`);
  term.line(lines.join("\n"));
}
