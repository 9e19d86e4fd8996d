import type { Digest } from "@hb/core/engine";
import { actionResultReferences } from "./action-result";
import { isEmptyBlob } from "./empty-blob";
import { type EntryAddress, hbEntryReferences } from "./hb-entry";

export type AcEntryFormat = "hb" | "bazel";

export interface AcEntryInfo {
  readonly format: AcEntryFormat;
  /** the CAS blobs (same instance) the entry needs, without the empty blob and duplicates */
  readonly references: Digest[];
}

const OPEN_BRACE = 0x7b;

/**
 * Tells an hb entry (JSON, first byte "{") from a Bazel ActionResult (protobuf) and returns
 * what it refers to. The two cannot be confused: "{" would start a protobuf group (wire type
 * 3, field 15), which ActionResult never contains. Leading whitespace is not skipped: a space
 * (0x20) is the tag of ActionResult.exit_code. Throws InvalidAcEntry for anything else.
 */
export function acEntryInfo(bytes: Uint8Array, address: EntryAddress): AcEntryInfo {
  const format: AcEntryFormat = bytes[0] === OPEN_BRACE ? "hb" : "bazel";
  const all = format === "hb" ? hbEntryReferences(bytes, address) : actionResultReferences(bytes);
  const seen = new Set<string>();
  const references = all.filter((d) => {
    const id = `${d.hash}/${d.size}`;
    if (isEmptyBlob(d) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return { format, references };
}
