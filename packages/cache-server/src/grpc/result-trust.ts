import type { KeyObject } from "node:crypto";
import { SHA256_HEX } from "@hb/core/engine";
import { type ActionResult, HB_ENTRY_TYPE_URL, decode } from "@hb/core/reapi";
import { acEntryInfo } from "../protocol/ac-entry";
import { type EntryTrust, entryTrust } from "../protocol/entry-trust";
import { type AcEntryRefusalReason, InvalidAcEntry } from "../protocol/invalid-entry";
import type { BlobDigest, GrpcBlobs } from "./blobs";

export type ResultTrust = EntryTrust | { readonly trusted: false; readonly reason: AcEntryRefusalReason; readonly message: string };

/**
 * Whether an ActionResult stored through UpdateActionResult is one a client trusting `keys` would
 * use. hb's clients restore the signed hb entry the result names (a CAS blob, in its auxiliary
 * metadata), not the result's own fields, so that entry must be signed by one of the keys as an
 * AC entry, and be about this instance and the action key the Action carries as its salt: a
 * trusted entry of another action, attached to this one, would displace a good result.
 */
export async function resultTrust(
  result: ActionResult,
  actionDigest: BlobDigest,
  instance: string,
  blobs: GrpcBlobs,
  keys: readonly KeyObject[],
): Promise<ResultTrust> {
  const unsigned = (message: string): ResultTrust => ({ trusted: false, reason: "unsigned_entry", message });
  const ref = result.execution_metadata?.auxiliary_metadata.find((m) => m.type_url === HB_ENTRY_TYPE_URL);
  if (!ref) return unsigned("this instance accepts only results naming an hb entry signed by a trusted key");
  let entryDigest: BlobDigest;
  let salt: string;
  try {
    entryDigest = decode("build.bazel.remote.execution.v2.Digest", ref.value);
    if (!SHA256_HEX.test(entryDigest.hash) || !Number.isSafeInteger(entryDigest.size_bytes) || entryDigest.size_bytes < 0)
      return unsigned("the digest of the hb entry it names is not a sha256 with a size");
    const action = await blobs.read(instance, actionDigest);
    if (!action) return unsigned("its Action is not in the instance's CAS: upload the Action before its result");
    salt = Buffer.from(decode("build.bazel.remote.execution.v2.Action", action).salt).toString("hex");
  } catch {
    return unsigned("the digest of the hb entry it names, or its Action, does not decode");
  }
  const entry = await blobs.read(instance, entryDigest);
  if (!entry) return unsigned("the hb entry it names is not in the instance's CAS: upload it before the result");
  try {
    // the action key is the Action's salt, as hb's client writes it (a Bazel Action has none)
    return entryTrust(entry, acEntryInfo(entry, { instance, hash: salt }).format, keys);
  } catch (e) {
    if (e instanceof InvalidAcEntry) return { trusted: false, reason: e.reason, message: `the hb entry it names: ${e.message}` };
    throw e;
  }
}
