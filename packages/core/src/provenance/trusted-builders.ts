// The builders release.policy trusts, with their keys loaded: what hb gate, hb explain and
// hb report verify provenance against, each the same way.
import type { KeyObject } from "node:crypto";
import { resolve } from "node:path";
import { keyId, loadPublicKey } from "../base/keys";
import type { AttestationFile } from "./attestation-files";
import { corroborate } from "./corroborate";
import { HB_BUILD_TYPE } from "./statement";

export interface TrustedBuilders {
  /** every key of every builder */
  keys: KeyObject[];
  /** builder id → the ids of the keys trusted to sign for it */
  builders: Map<string, string[]>;
}

/** Loads the public keys of release.policy.builders (builder id → key files, workspace-relative). */
export function loadTrustedBuilders(root: string, builders: Readonly<Record<string, readonly string[]>>): TrustedBuilders {
  const trusted: TrustedBuilders = { keys: [], builders: new Map() };
  for (const [builder, files] of Object.entries(builders)) {
    const loaded = files.map((f) => loadPublicKey(resolve(root, f)));
    trusted.keys.push(...loaded);
    trusted.builders.set(builder, loaded.map(keyId));
  }
  return trusted;
}

/**
 * The files among `files` holding build provenance of `sha256` that verifies against `trusted`:
 * an hb build's statement with this digest among its subjects, signed by a key trusted for the
 * builder id it names. (A rebuilder's attestation corroborates a build; it is not its provenance.)
 */
export function trustedProvenance(
  trusted: TrustedBuilders,
  sha256: string,
  artifactPath: string,
  files: readonly AttestationFile[],
): string[] {
  if (trusted.keys.length === 0 || files.length === 0) return [];
  const c = corroborate({ artifactSha256: sha256, artifactPath, files, keys: trusted.keys, builders: trusted.builders, threshold: 1 });
  return [...new Set(c.witnesses.filter((w) => w.buildType === HB_BUILD_TYPE).map((w) => w.file))];
}
