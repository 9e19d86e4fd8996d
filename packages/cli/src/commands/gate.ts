import { BYPASS_LOG, HbError, closeGateBypass, gate } from "@hb/core/engine";
import { type Command, choiceOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import { gateReport, openBypassWarnings } from "../ui/gate-report";
import { checkReportFile, writeJsonFile } from "../ui/report-file";
import { createTerminal } from "../ui/terminal";
import { HB_VERSION } from "../version";

const USAGE = [
  "hb gate [<artifact>...] --source-commit SHA [--attestation FILE|DIR...] [--signing-key FILE] [--output text|json]",
  "       hb gate ... --bypass ID --reason TEXT",
  "       hb gate --close-bypass ID --postmortem URL",
].join("\n");

export const gateCommand: Command = {
  name: "gate",
  summary: "The release gate: may these artifacts be promoted, by the release policy of hb.config.ts?",
  usage: USAGE,
  description: [
    "Checks each artifact (default: the outputs of release.targets under hb-out/) against release.policy,",
    "from its attestations (beside it, and each --attestation file or directory):",
    "  provenance           an hb build provenance of this digest, by a builder of release.policy.builders with its key",
    "  source-commit        built from --source-commit",
    "  clean-tree           from a clean tree (policy cleanTree, default true)",
    "  pinned-inputs        every npm package pinned by the lockfile or a reviewed hb.lock.json (pinnedInputs, default true)",
    "  sandboxed            no action ran unsandboxed (sandboxed, default true)",
    "  strict               built with --sandbox=strict (strict, default false)",
    "  hermetic-violations  at most maxHermeticViolations in --audit-report (when the policy sets it)",
    "  corroboration        k distinct trusted builders (keys and builder ids) attest the digest (corroboration, default 1)",
    "With --signing-key it writes <artifact>.vsa.intoto.jsonl, a signed SLSA Verification Summary.",
    `--bypass ID --reason TEXT lets a failing release through, recorded in the VSA, --report and the output base's ${BYPASS_LOG};`,
    "it stays open, and every gate says so, until hb gate --close-bypass ID --postmortem URL.",
    "exit codes: 0 every check passed (or bypassed), 1 a check failed, 2 it could not evaluate (no policy, an artifact or key unreadable)",
  ].join("\n"),
  options: {
    "source-commit": { type: "string", valueName: "SHA", description: "the full git commit id the release is of" },
    attestation: {
      type: "string",
      multiple: true,
      valueName: "PATH",
      description: "an attestation file, or a directory of *.intoto.jsonl (besides those beside each artifact)",
    },
    "signing-key": { type: "string", valueName: "FILE", description: "Ed25519 private key (PEM) that signs the verification summaries" },
    "verifier-id": { type: "string", valueName: "URI", description: "the summaries' verifier id (default urn:hb:verifier:local:<host>)" },
    "audit-report": {
      type: "string",
      valueName: "FILE",
      description: "hb build --audit --report FILE of this release, for maxHermeticViolations",
    },
    output: { type: "string", valueName: "FORMAT", description: "text (default) or json" },
    report: { type: "string", valueName: "FILE", description: "write the gate's result as JSON to FILE" },
    bypass: {
      type: "string",
      valueName: "ID",
      description: "emergency: pass a failing release, recorded under this incident id (needs --reason)",
    },
    reason: { type: "string", valueName: "TEXT", description: "why the bypass" },
    "close-bypass": { type: "string", valueName: "ID", description: "close an open bypass (needs --postmortem)" },
    postmortem: { type: "string", valueName: "URL", description: "the closed bypass's postmortem" },
    "output-base": {
      type: "string",
      valueName: "DIR",
      description: "hb's state directory, where the bypass log is (default <workspace>/.hb)",
    },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    const outputBase = stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE;
    const term = createTerminal();
    const closing = stringOption(values, "close-bypass");
    if (closing !== undefined) {
      const postmortem = stringOption(values, "postmortem");
      if (postmortem === undefined) {
        throw new HbError("USAGE", `--close-bypass ${closing} needs --postmortem URL: a bypass is closed only with its postmortem`);
      }
      if (positionals.length > 0 || values["source-commit"] !== undefined || values.bypass !== undefined) {
        throw new HbError("USAGE", "--close-bypass closes a bypass and gates nothing: give it only --postmortem", {
          hint: `usage: ${USAGE}`,
        });
      }
      const closed = await closeGateBypass({ cwd, outputBase, id: closing, postmortem });
      term.line(`hb: bypass ${closed.id} closed (postmortem ${closed.postmortem})`);
      return 0;
    }
    if (values.postmortem !== undefined) throw new HbError("USAGE", "--postmortem goes with --close-bypass ID");
    const sourceCommit = stringOption(values, "source-commit");
    if (sourceCommit === undefined) {
      throw new HbError("USAGE", "hb gate needs --source-commit SHA: the commit the release is of", {
        hint: 'in CI: --source-commit "$GITHUB_SHA" (or $(git rev-parse HEAD))',
      });
    }
    const bypassId = stringOption(values, "bypass");
    const reason = stringOption(values, "reason");
    if ((bypassId === undefined) !== (reason === undefined)) {
      throw new HbError("USAGE", "--bypass ID and --reason TEXT go together: an emergency bypass names its incident and why");
    }
    const output = choiceOption(values, "output", ["text", "json"] as const) ?? "text";
    const report = stringOption(values, "report");
    if (report) checkReportFile(cwd, report);
    const result = await gate({
      cwd,
      artifacts: positionals,
      attestations: Array.isArray(values.attestation) ? values.attestation : [],
      sourceCommit,
      signingKey: stringOption(values, "signing-key"),
      verifierId: stringOption(values, "verifier-id"),
      auditReport: stringOption(values, "audit-report"),
      ...(bypassId !== undefined ? { bypass: { id: bypassId, reason: reason! } } : {}),
      outputBase,
      hbVersion: HB_VERSION,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
      onLockWait: (m) => term.line(`hb: ${m}`),
    });
    if (output === "json") process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    else process.stdout.write(gateReport(result) + "\n");
    if (bypassId !== undefined && !result.bypass)
      term.warn(`--bypass ${bypassId} was not needed: every check passed, and nothing was recorded`);
    for (const w of openBypassWarnings(result)) term.warn(w);
    if (report) writeJsonFile(cwd, report, result);
    return result.result === "failed" ? 1 : 0;
  },
};
