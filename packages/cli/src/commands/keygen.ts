import { resolve } from "node:path";
import { HbError, generateKeyPair, writeKeyPair } from "@hb/core/engine";
import type { Command } from "../args";
import { stringOption } from "../args";
import { createTerminal } from "../ui/terminal";

export const keygenCommand: Command = {
  name: "keygen",
  summary: "Make an Ed25519 signing key pair: DIR/private.pem (PKCS#8) and DIR/public.pem (SPKI).",
  usage: "hb keygen --out DIR [--force]",
  description: [
    "private.pem is written with mode 0600: keep it secret and out of version control.",
    "Give public.pem to whoever verifies (hb attest verify --key public.pem).",
    "The key id printed is the sha256 of the public key's SPKI DER, as envelopes name their signer.",
  ].join("\n"),
  options: {
    out: { type: "string", valueName: "DIR", description: "directory to write the key pair into (made if missing)" },
    force: { type: "boolean", description: "replace a key pair already in DIR (what it signed will no longer verify with the new key)" },
  },
  async run({ values, cwd }) {
    const out = stringOption(values, "out");
    if (out === undefined)
      throw new HbError("USAGE", "hb keygen needs --out DIR", {
        hint: "e.g. hb keygen --out ~/.hb-keys (outside the workspace: never committed, and --provenance wants a clean tree)",
      });
    const files = writeKeyPair(resolve(cwd, out), generateKeyPair(), { force: values.force === true });
    const term = createTerminal();
    term.line(`hb: wrote ${files.privateKeyPath} (mode 0600; keep it secret, never commit it)`);
    term.line(`hb: wrote ${files.publicKeyPath}`);
    term.line(`hb: key id ${files.keyId}`);
    return 0;
  },
};
