import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  ATTESTATION_CHECKS,
  ATTESTATION_SUFFIX,
  type AttestationCheck,
  type AttestationVerification,
  HbError,
  didYouMean,
  loadPublicKey,
  verifyAttestation,
} from "@hb/core/engine";
import type { Command } from "../args";
import { stringOption } from "../args";

const USAGE = "hb attest verify <artifact> --key PEM [--attestation FILE] [--builder-id ID] [--source-commit SHA]";

export const attestCommand: Command = {
  name: "attest",
  summary: "Verify an artifact's signed provenance (hb attest verify).",
  usage: USAGE,
  description: [
    "verify checks, in order, that the attestation (a DSSE envelope per line of <artifact>.intoto.jsonl):",
    "  signature      is signed by a trusted --key (an Ed25519 public.pem from hb keygen)",
    "  payload-type   holds an in-toto statement (application/vnd.in-toto+json)",
    "  format         is an in-toto Statement v1 with a SLSA Provenance v1 predicate",
    "  subject        lists the artifact's sha256 among its subjects",
    "  builder        names the --builder-id as its builder (skipped without --builder-id)",
    "  source-commit  was built from the --source-commit, with a clean tree (skipped without it)",
    "exit codes: 0 verified, 1 a check failed (it is named), 2 bad command line, key or file",
  ].join("\n"),
  options: {
    key: { type: "string", multiple: true, valueName: "PEM", description: "a trusted Ed25519 public key (SPKI PEM)" },
    attestation: { type: "string", valueName: "FILE", description: `the attestation bundle (default: <artifact>${ATTESTATION_SUFFIX})` },
    "builder-id": { type: "string", valueName: "ID", description: "require this builder id (runDetails.builder.id)" },
    "source-commit": { type: "string", valueName: "SHA", description: "require a build of this full git commit id from a clean tree" },
  },
  positionals: true,
  async run({ values, positionals, cwd }) {
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
    const publicKeys = keys.map((k) => loadPublicKey(resolve(cwd, k)));
    const attestation = stringOption(values, "attestation") ?? `${artifact}${ATTESTATION_SUFFIX}`;
    const result = verifyAttestation({
      artifactPath: resolve(cwd, artifact),
      envelopeText: readAttestation(resolve(cwd, attestation)),
      publicKeys,
      expectedBuilderId: stringOption(values, "builder-id"),
      expectedSourceCommit: stringOption(values, "source-commit"),
    });
    process.stdout.write(`${report(artifact, attestation, result)}\n`);
    return result.ok ? 0 : 1;
  },
};

function readAttestation(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new HbError("UNREADABLE_FILE", `cannot read attestation ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: `name it with --attestation FILE (by default it is the artifact's path plus ${ATTESTATION_SUFFIX})`,
    });
  }
}

/** One line per check, in the order they run: passed, skipped, the one that failed, and those not reached. */
function report(artifact: string, attestation: string, result: AttestationVerification): string {
  const width = Math.max(...ATTESTATION_CHECKS.map((c) => c.length));
  const row = (mark: string, check: AttestationCheck, text: string) => `  ${mark.padEnd(4)}  ${check.padEnd(width)}  ${text}`;
  const lines = [`hb attest verify ${artifact} (attestation ${attestation})`];
  for (const c of result.checks) lines.push(row(c.outcome === "passed" ? "PASS" : "SKIP", c.check, c.detail));
  if (result.ok) {
    lines.push(`hb: VERIFIED: ${artifact} is attested by trusted key ${result.keyId}`);
  } else {
    lines.push(row("FAIL", result.check, result.message));
    const reached = new Set<AttestationCheck>([...result.checks.map((c) => c.check), result.check]);
    for (const check of ATTESTATION_CHECKS) if (!reached.has(check)) lines.push(row("----", check, "not checked"));
    lines.push(`hb: NOT VERIFIED: the ${result.check} check failed`);
  }
  return lines.join("\n");
}
