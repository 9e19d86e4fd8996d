import type { KeyObject } from "node:crypto";
import { rmSync } from "node:fs";
import type { ActionResult } from "../action-cache";
import { ACTION_SEMANTICS_VERSION } from "../../keying/action-key";
import type { ActionSpec } from "../../base/graph";
import type { LocalCas } from "../local-cas";
import type { KeyedAction } from "../../keying/action-keyer";
import { type TeamCache, TeamCacheBase, type TeamCacheHit } from "./team-cache";
import { type EntryVerdict, openAcEntry, signAcEntry } from "./ac-entry";
import { type CacheEndpoint, drain, parseCacheUrl, readBody, redact, saveBody, send } from "./http-client";

export interface RemoteCacheOptions {
  /** http(s)://[user:token@]host:port */
  url: string;
  /** bearer token (HB_CACHE_TOKEN); never logged */
  token?: string;
  /** the instance this client writes to ("" for none) */
  instance: string;
  /** instances to read from, in order (e.g. pr-123, then main) */
  readInstances: string[];
  upload: boolean;
  /** signs uploaded entries */
  signingKey?: KeyObject;
  /** public keys whose entries are accepted, per instance ("*": every instance) */
  trustedKeys: ReadonlyMap<string, readonly KeyObject[]>;
}

const ATTEMPTS = 3;

/**
 * hb's client of a Bazel-protocol HTTP cache. Every hit is verified before use: the entry's
 * signature against the keys trusted for its instance, its binding to this action key, its paths,
 * and every blob re-hashed as it arrives. A problem makes it a miss, never a partial restore. The
 * build never fails because of the cache: after retries it builds locally and says so once.
 */
export class RemoteCache extends TeamCacheBase implements TeamCache {
  private readonly endpoint: CacheEndpoint;
  private uploadRefused = false;

  constructor(
    private readonly opts: RemoteCacheOptions,
    warn: (message: string) => void,
  ) {
    super(opts.trustedKeys, opts.upload, warn);
    this.endpoint = parseCacheUrl(opts.url, opts.token);
  }

  get display(): string {
    return redact(this.endpoint.base);
  }

  private path(instance: string, kind: "ac" | "cas", hash: string): string {
    return `${instance ? `/${instance}` : ""}/${kind}/${hash}`;
  }

  /** A request with retries and backoff; undefined once the cache is given up on. */
  private async request(method: string, path: string, body?: { file: string } | { bytes: Buffer }) {
    if (this.stats.unavailable) return undefined;
    let last: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await send(this.endpoint, method, path, body);
        if (res.status < 500) return res;
        last = new Error(`HTTP ${res.status}`);
        await drain(res.body);
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100 * 3 ** (attempt - 1)));
    }
    const why = `${(last as Error)?.message ?? last}`;
    this.giveUp(why, `remote cache ${this.display} is unavailable (${why})`);
    return undefined;
  }

  /**
   * The verified result of `key`, with every blob in the local CAS; undefined for a miss (or a
   * refused entry, counted and reported).
   */
  async lookup(action: ActionSpec, keyed: KeyedAction, cas: LocalCas, epoch: number): Promise<TeamCacheHit | undefined> {
    const key = keyed.key;
    for (const instance of this.opts.readInstances) {
      const res = await this.request("GET", this.path(instance, "ac", key));
      if (!res) return undefined;
      if (res.status === 401 || res.status === 403) {
        await drain(res.body);
        this.giveUp(
          `HTTP ${res.status} reading instance '${instance}'`,
          `remote cache ${this.display} refused to let this client read (HTTP ${res.status}): set HB_CACHE_TOKEN to a token with read access`,
        );
        return undefined;
      }
      if (res.status !== 200) {
        await drain(res.body);
        continue;
      }
      let verdict: EntryVerdict;
      try {
        verdict = openAcEntry(await readBody(res.body), { actionKey: key, instance, action }, this.trustedFor(instance));
      } catch (e) {
        this.reject("malformed", `${action.owner}: ${(e as Error).message}`);
        continue;
      }
      if (!verdict.ok) {
        this.reject(verdict.reason, `${action.owner} from instance '${instance}': ${verdict.message}`);
        continue;
      }
      if (await this.download(verdict.result, instance, cas, epoch, action)) {
        this.stats.hits++;
        return { result: verdict.result, instance, keyId: verdict.keyId };
      }
      return undefined;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Every blob of a result into the local CAS, each re-hashed as it arrives; all or nothing. */
  private async download(result: ActionResult, instance: string, cas: LocalCas, epoch: number, action: ActionSpec): Promise<boolean> {
    for (const f of result.files) {
      if (f.symlink !== undefined || cas.get({ hash: f.hash, size: f.size })) continue;
      const res = await this.request("GET", this.path(instance, "cas", f.hash));
      if (!res) return false;
      if (res.status !== 200) {
        await drain(res.body);
        this.reject("missing-blob", `${action.owner}: blob ${f.hash.slice(0, 12)} of ${f.path} is not on the server (HTTP ${res.status})`);
        return false;
      }
      const tmp = cas.tempPath();
      try {
        const got = await saveBody(res.body, tmp);
        if (got.hash !== f.hash || got.size !== f.size) {
          this.reject(
            "corrupt-blob",
            `${action.owner}: ${f.path} arrived with sha256 ${got.hash.slice(0, 12)} (${got.size} bytes), not ${f.hash.slice(0, 12)} (${f.size} bytes)`,
          );
          return false;
        }
        cas.adopt(tmp, { hash: f.hash, size: f.size }, epoch);
        this.stats.bytesDownloaded += got.size;
      } catch (e) {
        this.warn(`remote cache: could not download ${f.path}: ${(e as Error).message}`);
        return false;
      } finally {
        rmSync(tmp, { force: true });
      }
    }
    return true;
  }

  /** Uploads a result: missing blobs first, then the signed entry. Failures are reported once, never fatal. */
  async upload(action: ActionSpec, keyed: KeyedAction, result: ActionResult, cas: LocalCas): Promise<void> {
    const key = keyed.key;
    if (!this.opts.upload || !this.opts.signingKey || this.uploadRefused || this.stats.unavailable) return;
    const instance = this.opts.instance;
    for (const f of result.files) {
      if (f.symlink !== undefined) continue;
      const head = await this.request("HEAD", this.path(instance, "cas", f.hash));
      if (!head) return;
      await drain(head.body);
      if (head.status === 200) continue;
      if (!(await this.accepted(this.path(instance, "cas", f.hash), { file: cas.blobPath(f.hash) }, action))) return;
      this.stats.bytesUploaded += f.size;
    }
    const entry = signAcEntry({ actionKey: key, instance, semanticsVersion: ACTION_SEMANTICS_VERSION, result }, this.opts.signingKey);
    if (await this.accepted(this.path(instance, "ac", key), { bytes: entry }, action)) this.stats.uploads++;
  }

  private async accepted(path: string, body: { file: string } | { bytes: Buffer }, action: ActionSpec): Promise<boolean> {
    const res = await this.request("PUT", path, body);
    if (!res) return false;
    const text = (await readBody(res.body).catch(() => Buffer.alloc(0))).toString("utf8").slice(0, 300).trim();
    if (res.status >= 200 && res.status < 300) return true;
    const label = res.body.headers["x-hb-refusal"];
    const reason = typeof label === "string" && /^[a-z_]{1,40}$/.test(label) ? label : `http_${res.status}`;
    this.stats.refusedUploads[reason] = (this.stats.refusedUploads[reason] ?? 0) + 1;
    const what = `${action.owner}'s ${path.includes("/ac/") ? "entry" : "output"}`;
    if (reason === "untrusted_signature" || reason === "unsigned_entry") {
      // every entry this client signs is refused the same way: said once, and not tried again
      if (!this.uploadRefused)
        this.warn(
          `remote cache ${this.display} refused ${what}: ${text || reason}; the server does not trust this client's signing key for instance '${this.opts.instance}', so nothing more is uploaded (the build is unaffected)`,
        );
      this.uploadRefused = true;
    } else if (res.status === 401 || res.status === 403) {
      // said once, though uploads under way at the same time are refused too
      if (!this.uploadRefused)
        this.warn(
          `remote cache ${this.display} refused uploads to instance '${this.opts.instance}' (HTTP ${res.status}${text ? `: ${text}` : ""}); not uploading more`,
        );
      this.uploadRefused = true;
    } else {
      this.warn(`remote cache: upload of ${what} refused (HTTP ${res.status}${text ? `: ${text}` : ""})`);
    }
    return false;
  }
}
