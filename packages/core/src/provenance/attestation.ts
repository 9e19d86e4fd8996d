// A signed statement as it is stored: a DSSE envelope, one JSON line of an in-toto bundle.
//   Envelope layer: https://github.com/in-toto/attestation/blob/main/spec/v1/envelope.md
//   Bundle layer:   https://github.com/in-toto/attestation/blob/main/spec/v1/bundle.md
import type { KeyObject } from "node:crypto";
import { type Envelope, serializeEnvelope, signEnvelope } from "../base/dsse";
import { type Statement, serializeStatement } from "./statement";

/** The payload type of an envelope holding any in-toto Statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** The bundle of attestations about `<file>` is `<file>.intoto.jsonl`, beside it. */
export const ATTESTATION_SUFFIX = ".intoto.jsonl";

export function signStatement<Predicate>(statement: Statement<Predicate>, privateKey: KeyObject): Envelope {
  return signEnvelope(serializeStatement(statement), IN_TOTO_PAYLOAD_TYPE, privateKey);
}

/** The `.intoto.jsonl` content for one attestation: the envelope on one line. */
export function attestationBundle<Predicate>(statement: Statement<Predicate>, privateKey: KeyObject): string {
  return `${serializeEnvelope(signStatement(statement, privateKey))}\n`;
}
