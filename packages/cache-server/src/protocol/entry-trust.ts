import type { KeyObject } from "node:crypto";
import { AC_ENTRY_PAYLOAD_TYPE, verifyEnvelope } from "@hb/core/engine";
import type { AcEntryFormat } from "./ac-entry";

export type EntryTrust =
  | { readonly trusted: true; readonly keyId: string }
  | { readonly trusted: false; readonly reason: "unsigned_entry" | "untrusted_signature"; readonly message: string };

/**
 * Whether an AC entry, already checked for its structure (`acEntryInfo`), is one a client
 * trusting `keys` would use: an hb entry whose DSSE signature verifies with one of them, as an
 * hb AC entry (the payload type, so a trusted key's other signatures cannot be replayed as one).
 * A Bazel ActionResult carries no signature at all.
 */
export function entryTrust(bytes: Uint8Array, format: AcEntryFormat, keys: readonly KeyObject[]): EntryTrust {
  if (format === "bazel") {
    return { trusted: false, reason: "unsigned_entry", message: "this instance accepts only hb entries signed by a trusted key" };
  }
  const verified = verifyEnvelope(JSON.parse(Buffer.from(bytes).toString("utf8")), keys);
  if (!verified.ok) return { trusted: false, reason: "untrusted_signature", message: `the entry's signature: ${verified.message}` };
  if (verified.payloadType !== AC_ENTRY_PAYLOAD_TYPE) {
    return {
      trusted: false,
      reason: "untrusted_signature",
      message: `signed by a trusted key as ${JSON.stringify(verified.payloadType.slice(0, 80))}, not as an hb AC entry`,
    };
  }
  return { trusted: true, keyId: verified.keyId };
}
