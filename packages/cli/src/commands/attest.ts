import { relative } from "node:path";
import {
  ATTESTATION_CHECKS,
  ATTESTATION_SUFFIX,
  type AttestationCheck,
  type Corroboration,
  type EnvelopeResult,
  HbError,
  attestVerify,
  describeDisagreement,
  didYouMean,
  shortId,
} from "@hb/core/engine";
import type { Command } from "../args";
import { intOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";

const USAGE =
  "hb attest verify <artifact> --key PEM... [--attestation FILE|DIR...] [--threshold K] [--builder-id ID] [--source-commit SHA] [--output-base DIR]";

export const attestCommand: Command = {
  name: "attest",
  summary: "Verify an artifact's signed provenance, and whether k independent builders corroborate it (hb attest verify).",
  usage: USAGE,
  description: [
    "verify reads the attestations named with --attestation (files, or directories: their *.intoto.jsonl)",
    `and those beside the artifact (<artifact>${ATTESTATION_SUFFIX}, <artifact>.rebuild.*${ATTESTATION_SUFFIX}),`,
    "a DSSE envelope per line, and checks each, in order:",
    "  signature      is signed by a trusted --key (an Ed25519 public.pem from hb keygen)",
    "  payload-type   holds an in-toto statement (application/vnd.in-toto+json)",
    "  format         is an in-toto Statement v1 with a SLSA Provenance v1 predicate",
    "  subject        lists the artifact's sha256 among its subjects",
    "  builder        names the --builder-id as its builder (skipped without --builder-id)",
    "  source-commit  was built from the --source-commit, with a clean tree (skipped without it)",
    "With --threshold K it passes when at least K attestations of this digest verify with K distinct",
    "keys and K distinct builder ids, from the same clean commit: a key, or a builder id, counts once.",
    "When a trusted builder attests another digest for the artifact, it names the first action, in",
    "dependency order, whose outputs differ between the two builds.",
    "exit codes: 0 verified, 1 a check failed (it is named), 2 bad command line, key or file",
  ].join("\n"),
  options: {
    key: { type: "string", multiple: true, valueName: "PEM", description: "a trusted Ed25519 public key (SPKI PEM)" },
    attestation: {
      type: "string",
      multiple: true,
      valueName: "PATH",
      description: "an attestation file, or a directory of *.intoto.jsonl (besides those beside the artifact)",
    },
    threshold: {
      type: "string",
      valueName: "K",
      description: "require K independent builders (distinct keys and builder ids) to agree (default 1)",
    },
    "builder-id": { type: "string", valueName: "ID", description: "require this builder id (runDetails.builder.id)" },
    "source-commit": { type: "string", valueName: "SHA", description: "require a build of this full git commit id from a clean tree" },
    "output-base": {
      type: "string",
      valueName: "DIR",
      description: "hb's state directory, where the run is recorded (default <workspace>/.hb)",
    },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    const [subcommand, artifact, ...extra] = positionals;
    if (subcommand !== "verify") {
      const guess = subcommand === undefined ? undefined : didYouMean(subcommand, ["verify"]);
      const what = subcommand === undefined ? "hb attest needs a subcommand" : `unknown subcommand 'hb attest ${subcommand}'`;
      throw new HbError("USAGE", what, { hint: guess ? `did you mean 'hb attest ${guess}'?` : `usage: ${USAGE}` });
    }
    if (artifact === undefined || extra.length > 0) {
      throw new HbError("USAGE", "hb attest verify takes exactly one artifact", { hint: `usage: ${USAGE}` });
    }
    const keys = Array.isArray(values.key) ? values.key : [];
    if (keys.length === 0) {
      throw new HbError("USAGE", "hb attest verify needs --key PEM: the public key the attestation must be signed with", {
        hint: "the signer's public.pem, as written by hb keygen",
      });
    }
    const threshold = intOption(values, "threshold", 1) ?? 1;
    const builderId = stringOption(values, "builder-id");
    if (builderId !== undefined && threshold > 1) {
      throw new HbError("USAGE", `--builder-id names one builder, and --threshold ${threshold} needs ${threshold} distinct ones`, {
        hint: "drop --builder-id: the threshold counts distinct builder ids and keys",
      });
    }
    const { result, sha256 } = await attestVerify({
      cwd,
      artifact,
      keys,
      attestations: Array.isArray(values.attestation) ? values.attestation : [],
      threshold,
      builderId,
      sourceCommit: stringOption(values, "source-commit"),
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
    });
    const show = (file: string, line: number) => `${relative(cwd, file)}${result.envelopes.length > 1 ? `:${line}` : ""}`;
    const text = threshold === 1 ? checksReport(artifact, result, show) : corroborationReport(artifact, result, show);
    const disagreements = result.disagreements.map((d) => `hb: DISAGREES: ${describeDisagreement(d, sha256)}`);
    process.stdout.write([text, ...disagreements].join("\n") + "\n");
    return result.ok ? 0 : 1;
  },
};

type Show = (file: string, line: number) => string;

/** One attestation's checks, one line each, in the order they run: its passing one, or the one that got furthest. */
function checksReport(artifact: string, result: Corroboration, show: Show): string {
  const width = Math.max(...ATTESTATION_CHECKS.map((c) => c.length));
  const row = (mark: string, check: AttestationCheck, text: string) => `  ${mark.padEnd(4)}  ${check.padEnd(width)}  ${text}`;
  const witness = result.agreeing[0];
  const shown: EnvelopeResult =
    result.envelopes.find((e) => witness && e.file === witness.file && e.line === witness.line) ??
    result.envelopes.reduce((best, e) => (e.verification.checks.length > best.verification.checks.length ? e : best));
  const v = shown.verification;
  const lines = [`hb attest verify ${artifact} (attestation ${show(shown.file, shown.line)})`];
  for (const c of v.checks) lines.push(row(c.outcome === "passed" ? "PASS" : "SKIP", c.check, c.detail));
  if (v.ok) {
    lines.push(`hb: VERIFIED: ${artifact} is attested by trusted key ${v.keyId}`);
  } else {
    lines.push(row("FAIL", v.check, v.message));
    const reached = new Set<AttestationCheck>([...v.checks.map((c) => c.check), v.check]);
    for (const check of ATTESTATION_CHECKS) if (!reached.has(check)) lines.push(row("----", check, "not checked"));
    lines.push(`hb: NOT VERIFIED: the ${v.check} check failed`);
  }
  return lines.join("\n");
}

/** Every attestation about this artifact, one line each, then how many independent builders agree. */
function corroborationReport(artifact: string, result: Corroboration, show: Show): string {
  const agreeing = new Set(result.agreeing.map((w) => `${w.file}:${w.line}`));
  const lines = [`hb attest verify ${artifact} --threshold ${result.threshold}`];
  let unrelated = 0;
  for (const e of result.envelopes) {
    const v = e.verification;
    const at = show(e.file, e.line);
    if (v.ok) {
      const who = `builder ${JSON.stringify(v.statement.predicate.runDetails.builder.id)}, key ${shortId(v.keyId)}`;
      if (e.excluded) lines.push(`  ----  ${at}  ${who}: does not count: ${e.excluded.message}`);
      else if (agreeing.has(`${e.file}:${e.line}`)) lines.push(`  PASS  ${at}  ${who}`);
      else lines.push(`  SAME  ${at}  ${who}: counts once (its key or builder id is already counted, or it is of another commit)`);
    } else if (v.check === "subject" && !result.disagreements.some((d) => d.file === e.file && d.line === e.line)) {
      unrelated++;
    } else {
      lines.push(`  FAIL  ${at}  ${v.check}: ${v.message}`);
    }
  }
  if (unrelated > 0) lines.push(`  (${unrelated} trusted attestation(s) about other artifacts)`);
  const who = result.agreeing.map((w) => `${JSON.stringify(w.builderId)} (key ${shortId(w.keyId)})`).join(", ");
  const from = result.commit ? ` from commit ${result.commit}` : "";
  lines.push(
    result.ok
      ? `hb: CORROBORATED: ${result.agreeing.length} independent builders agree on ${artifact}${from}: ${who}`
      : `hb: NOT CORROBORATED: ${result.agreeing.length} of the ${result.threshold} independent builders required agree on ${artifact}${from}${who ? `: ${who}` : ""}`,
  );
  return lines.join("\n");
}
