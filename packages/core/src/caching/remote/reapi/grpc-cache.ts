import type { KeyObject } from "node:crypto";
import { hostname } from "node:os";
import { rmSync, writeFileSync } from "node:fs";
import { type ServiceError, status } from "@grpc/grpc-js";
import type { ActionResult } from "../../../base/action-result";
import type { ActionSpec, RunAction } from "../../../base/graph";
import { ACTION_SEMANTICS_VERSION } from "../../../keying/action-key";
import type { KeyedAction } from "../../../keying/action-keyer";
import type { LocalCas } from "../../local-cas";
import { type EntryVerdict, openAcEntry, signAcEntry, unsafePaths } from "../ac-entry";
import { type TeamCache, TeamCacheBase, type TeamCacheHit } from "../team-cache";
import { actionMessage, hbFiles, reapiResult } from "./action-message";
import { BlobError, CasClient, digestOf } from "./cas-client";
import { HB_ENTRY_TYPE_URL } from "./entry-ref";
import { type ReapiChannel, codeOf, describeGrpcError } from "./channel";
import { type ActionResult as ReapiResult, decode, encode } from "./proto";
import { ActionCacheService } from "./services";

export interface GrpcCacheOptions {
  channel: ReapiChannel;
  instance: string;
  readInstances: string[];
  upload: boolean;
  signingKey?: KeyObject;
  trustedKeys: ReadonlyMap<string, readonly KeyObject[]>;
  /** instances whose engine-made results are used unsigned (remoteCache.trustEngine); never a PR's */
  trustEngine: ReadonlySet<string>;
}

/**
 * hb's client of a REAPI action cache and CAS. An ActionResult hb writes carries hb's signed
 * entry (the DSSE envelope as a CAS blob, named in the result's auxiliary metadata), so trusted
 * keys work as over HTTP; a result without one (the engine's own) is used only where the
 * instance's policy trusts the engine. Every blob is re-hashed as it arrives.
 */
export class GrpcRemoteCache extends TeamCacheBase implements TeamCache {
  private readonly cas = new Map<string, CasClient>();
  private uploadRefused = false;

  constructor(
    readonly opts: GrpcCacheOptions,
    warn: (message: string) => void,
  ) {
    super(opts.trustedKeys, opts.upload, warn);
  }

  get display(): string {
    return this.opts.channel.display;
  }

  casFor(instance: string): CasClient {
    let c = this.cas.get(instance);
    if (!c) this.cas.set(instance, (c = new CasClient(this.opts.channel, instance)));
    return c;
  }

  /** Bytes moved by every instance's CAS, into the stats before they are reported. */
  private count(): void {
    this.stats.bytesUploaded = [...this.cas.values()].reduce((n, c) => n + c.bytesUploaded, 0);
    this.stats.bytesDownloaded = [...this.cas.values()].reduce((n, c) => n + c.bytesDownloaded, 0);
  }

  /** A failure of the server or the network: the cache is given up for this build. */
  private lost(e: unknown, doing: string): undefined {
    const why = describeGrpcError(e);
    const code = codeOf(e);
    if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED)
      this.giveUp(
        why,
        `remote cache ${this.display} refused to let this client ${doing} (${why}): set HB_CACHE_TOKEN to a token with access`,
      );
    else this.giveUp(why, `remote cache ${this.display} is unavailable (${why})`);
    return undefined;
  }

  async lookup(action: ActionSpec, keyed: KeyedAction, cas: LocalCas, epoch: number): Promise<TeamCacheHit | undefined> {
    if (this.stats.unavailable || action.kind !== "run") return undefined;
    const { actionDigest } = actionMessage(action, keyed, cas);
    for (const instance of this.opts.readInstances) {
      let found: ReapiResult;
      try {
        found = await this.opts.channel.unary(ActionCacheService.GetActionResult, { instance_name: instance, action_digest: actionDigest });
      } catch (e) {
        if (codeOf(e) === status.NOT_FOUND) continue;
        return this.lost(e, "read");
      }
      const verdict = await this.verify(found, instance, action, keyed).catch((e: unknown) => {
        if (e instanceof BlobError) return { ok: false as const, reason: e.reason, message: e.message };
        throw e;
      });
      if (!verdict.ok) {
        this.reject(verdict.reason, `${action.owner} from instance '${instance}': ${verdict.message}`);
        continue;
      }
      const ok = await this.download(verdict.result, instance, cas, epoch, action);
      this.count();
      if (!ok) return undefined;
      this.stats.hits++;
      return { result: verdict.result, instance, keyId: verdict.keyId };
    }
    this.stats.misses++;
    return undefined;
  }

  /** hb's signed entry when the result carries one; otherwise the engine's result, where the instance trusts it. */
  private async verify(found: ReapiResult, instance: string, action: RunAction, keyed: KeyedAction): Promise<EntryVerdict> {
    const ref = found.execution_metadata?.auxiliary_metadata.find((m) => m.type_url === HB_ENTRY_TYPE_URL);
    if (ref) {
      const digest = decode("build.bazel.remote.execution.v2.Digest", ref.value);
      const envelope = await this.casFor(instance).read(digest);
      return openAcEntry(envelope, { actionKey: keyed.key, instance, action }, this.trustedFor(instance));
    }
    if (!this.opts.trustEngine.has(instance))
      return {
        ok: false,
        reason: "unsigned",
        message: `a result no trusted key signed (made by the engine); remoteCache.trustEngine is off for instance '${instance}'`,
      };
    return engineResult(found, action, keyed, (d) => this.casFor(instance).read(d));
  }

  /** Every blob of a result into the local CAS, each re-hashed as it arrives; all or nothing. */
  async download(result: ActionResult, instance: string, cas: LocalCas, epoch: number, action: ActionSpec): Promise<boolean> {
    const client = this.casFor(instance);
    for (const f of result.files) {
      if (f.symlink !== undefined || cas.get({ hash: f.hash, size: f.size })) continue;
      const tmp = cas.tempPath();
      try {
        writeFileSync(tmp, await client.read({ hash: f.hash, size_bytes: f.size }));
        cas.adopt(tmp, { hash: f.hash, size: f.size }, epoch);
      } catch (e) {
        if (e instanceof BlobError) this.reject(e.reason, `${action.owner}: ${f.path}: ${e.message}`);
        else this.lost(e, "read");
        return false;
      } finally {
        rmSync(tmp, { force: true });
      }
    }
    return true;
  }

  /** Uploads a result: its blobs, the Action it answers, the signed entry, then the ActionResult naming them. */
  async upload(action: ActionSpec, keyed: KeyedAction, result: ActionResult, cas: LocalCas): Promise<void> {
    if (!this.opts.upload || !this.opts.signingKey || this.uploadRefused || this.stats.unavailable || action.kind !== "run") return;
    const { instance } = this.opts;
    const message = actionMessage(action, keyed, cas);
    const entry = signAcEntry({ actionKey: keyed.key, instance, semanticsVersion: ACTION_SEMANTICS_VERSION, result }, this.opts.signingKey);
    const entryDigest = digestOf(entry);
    const { result: reapi, trees } = reapiResult(result, {
      worker: hostname(),
      auxiliary_metadata: [{ type_url: HB_ENTRY_TYPE_URL, value: encode("build.bazel.remote.execution.v2.Digest", entryDigest) }],
    });
    const outputs = result.files
      .filter((f) => f.symlink === undefined)
      .map((f) => ({ digest: { hash: f.hash, size_bytes: f.size }, file: cas.blobPath(f.hash) }));
    try {
      await this.casFor(instance).upload([...message.messages, ...outputs, ...trees, { digest: entryDigest, bytes: entry }]);
      await this.opts.channel.unary(ActionCacheService.UpdateActionResult, {
        instance_name: instance,
        action_digest: message.actionDigest,
        action_result: reapi,
      });
      this.stats.uploads++;
    } catch (e) {
      const code = codeOf(e);
      if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED) {
        // counted by the server's reason where it gives one (x-hb-refusal: untrusted_signature, say), as over HTTP
        const label = (e as ServiceError).metadata?.get("x-hb-refusal")[0];
        const reason = typeof label === "string" && /^[a-z_]{1,40}$/.test(label) ? label : status[code].toLowerCase();
        this.stats.refusedUploads[reason] = (this.stats.refusedUploads[reason] ?? 0) + 1;
        if (!this.uploadRefused)
          this.warn(`remote cache ${this.display} refused uploads to instance '${instance}' (${describeGrpcError(e)}); not uploading more`);
        this.uploadRefused = true;
      } else this.warn(`remote cache: upload of ${action.owner}'s result failed (${describeGrpcError(e)})`);
    } finally {
      this.count();
    }
  }
}

/**
 * A result made by the engine (not signed by hb) as hb's: only a success, with exactly the
 * action's declared outputs, and paths that stay inside them.
 */
export async function engineResult(
  found: ReapiResult,
  action: RunAction,
  keyed: KeyedAction,
  readTree: (d: { hash: string; size_bytes: number }) => Promise<Buffer>,
): Promise<EntryVerdict> {
  if (found.exit_code !== 0) return { ok: false, reason: "malformed", message: `the result is a failure (exit code ${found.exit_code})` };
  const { files, dirs } = await hbFiles(found, readTree);
  const result: ActionResult = {
    files,
    dirs,
    exitCode: 0,
    stdout: found.stdout_raw.toString("utf8"),
    stderr: found.stderr_raw.toString("utf8"),
    executedAtMs: Date.now(),
    durationMs: 0,
    sandbox: keyed.mode,
  };
  const unsafe = unsafePaths(result, action);
  if (unsafe) return { ok: false, reason: "unsafe-paths", message: unsafe };
  return { ok: true, result, keyId: "engine" };
}
