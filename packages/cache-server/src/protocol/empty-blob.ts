import { type Digest, sha256Hex } from "@hb/core/engine";

/** The sha256 of no bytes: clients never upload it, so references to it need no blob. */
export const EMPTY_SHA256 = sha256Hex("");

export function isEmptyBlob(d: Digest): boolean {
  return d.size === 0 && d.hash === EMPTY_SHA256;
}
