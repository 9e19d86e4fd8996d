import type { KeyObject } from "node:crypto";
import type { ActionResult } from "../../base/action-result";
import type { ActionSpec } from "../../base/graph";
import type { KeyedAction } from "../../keying/action-keyer";
import type { LocalCas } from "../local-cas";
import type { RejectReason } from "./ac-entry";

/** Refusals that follow from the workspace's key setup rather than from the entry: what fixes them. */
const BY_SETUP: Partial<Record<RejectReason, string>> = {
  untrusted: "if you trust its signer, add its public key to remoteCache.trustedKeys in hb.config.ts",
  unsigned: "this workspace takes only entries signed by a key in remoteCache.trustedKeys; upload with --signing-key",
};

export interface RemoteStats {
  hits: number;
  misses: number;
  bytesDownloaded: number;
  bytesUploaded: number;
  uploads: number;
  /** actions run by a remote executor (REAPI Execute) */
  executed?: number;
  /** entries or blobs refused, by reason: counted, reported, never used */
  rejected: Partial<Record<RejectReason, number>>;
  /**
   * uploads the server refused, by the reason it gave (its X-Hb-Refusal label, such as
   * untrusted_signature, or http_<status>): the build's result stands, the cache just lacks them
   */
  refusedUploads: Partial<Record<string, number>>;
  /** why the cache stopped being used, if it did */
  unavailable?: string;
}

/** A verified hit: its blobs are in the local CAS. */
export interface TeamCacheHit {
  result: ActionResult;
  instance: string;
  /** the key that signed it, or "engine" for a result the instance's policy trusts unsigned */
  keyId: string;
}

/** The team cache, over HTTP (Bazel's protocol) or REAPI: one lookup and one upload. */
export interface TeamCache {
  readonly display: string;
  readonly stats: RemoteStats;
  lookup(action: ActionSpec, keyed: KeyedAction, cas: LocalCas, epoch: number): Promise<TeamCacheHit | undefined>;
  upload(action: ActionSpec, keyed: KeyedAction, result: ActionResult, cas: LocalCas): Promise<void>;
}

/** What both clients keep: counts, the keys trusted per instance, and giving up once. */
export abstract class TeamCacheBase {
  readonly stats: RemoteStats = {
    hits: 0,
    misses: 0,
    bytesDownloaded: 0,
    bytesUploaded: 0,
    uploads: 0,
    rejected: {},
    refusedUploads: {},
  };

  constructor(
    protected readonly trustedKeys: ReadonlyMap<string, readonly KeyObject[]>,
    protected readonly uploads: boolean,
    protected readonly warn: (message: string) => void,
  ) {}

  /**
   * Stops using the cache for the rest of the build, saying so once (lookups run several at a
   * time, so more than one can fail at once), and that nothing is uploaded when that was asked.
   */
  protected giveUp(why: string, message: string): void {
    if (this.stats.unavailable) return;
    this.stats.unavailable = why;
    this.warn(`${message}; building locally${this.uploads ? ", and uploading nothing" : ""}`);
  }

  protected reject(reason: RejectReason, message: string): undefined {
    const n = (this.stats.rejected[reason] ?? 0) + 1;
    this.stats.rejected[reason] = n;
    // a key this workspace does not trust (or none) refuses every entry alike: one warning, with
    // the fix, and the summary's count; a refusal of one entry for its own fault is said each time
    const fix = BY_SETUP[reason];
    if (fix === undefined) this.warn(`remote cache: refused an entry (${reason}): ${message}`);
    else if (n === 1)
      this.warn(`remote cache: refused an entry (${reason}): ${message}; ${fix} (further entries refused so are counted, not said)`);
    return undefined;
  }

  protected trustedFor(instance: string): KeyObject[] {
    return [...(this.trustedKeys.get(instance) ?? []), ...(this.trustedKeys.get("*") ?? [])];
  }
}
