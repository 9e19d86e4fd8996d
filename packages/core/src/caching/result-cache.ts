import { hostname } from "node:os";
import type { ActionResult } from "../base/action-result";
import type { ActionSpec } from "../base/graph";
import type { KeyedAction } from "../keying/action-keyer";
import type { OutputBase } from "./output-base";
import type { TeamCache, TeamCacheHit } from "./remote/team-cache";

/**
 * The action cache as a build sees it, behind one lookup: the local AC first, then the team
 * cache. Fresh results are recorded here too, with how they were made (for `hb explain`), in
 * the same write batch as the entry, so a crash never keeps an entry without its description.
 */
export class ResultCache {
  private readonly uploads: Promise<void>[] = [];

  constructor(
    private readonly base: OutputBase,
    private readonly remote: TeamCache | undefined,
    private readonly epoch: number,
  ) {}

  local(key: string): ActionResult | undefined {
    return this.base.ac.get(key);
  }

  /** Whether a local miss of `a` is worth asking the team cache about. */
  asksRemote(a: ActionSpec): boolean {
    return this.remote !== undefined && a.kind === "run";
  }

  /** The team cache's entry for a local miss; kept locally when `accept` takes its outputs. */
  async fromRemote(a: ActionSpec, k: KeyedAction, accept: (result: ActionResult) => boolean): Promise<TeamCacheHit | undefined> {
    const hit = await this.remote!.lookup(a, k, this.base.cas, this.epoch);
    if (!hit || !accept(hit.result)) return undefined;
    this.base.ac.put(k.key, hit.result);
    this.describe(a, k, hit.result, `remote:${hit.instance || "(no instance)"}:${hit.keyId.slice(0, 16)}`);
    return hit;
  }

  /** A fresh result: cached when `cache` (only sandboxed, successful, network-free runs go to the team cache). */
  record(a: ActionSpec, k: KeyedAction, result: ActionResult, cache: boolean): void {
    if (cache) {
      this.base.ac.put(k.key, result);
      if (this.remote && a.kind === "run" && k.mode !== "none") this.uploads.push(this.remote.upload(a, k, result, this.base.cas));
    }
    this.describe(a, k, result, `local:${hostname()}`);
  }

  /** A result that turned out not to stand for its key (a toolchain changed while it ran). */
  forget(key: string): void {
    this.base.ac.delete(key);
  }

  get uploading(): boolean {
    return this.uploads.length > 0;
  }

  /** Resolves when every upload started has ended. */
  settled(): Promise<void> {
    return Promise.all(this.uploads).then(() => undefined);
  }

  private describe(a: ActionSpec, k: KeyedAction, result: ActionResult, builder: string): void {
    const m = k.material;
    this.base.ac.describe(
      k.key,
      {
        owner: a.owner,
        mnemonic: a.mnemonic,
        kind: a.kind,
        argv: [...m.argv],
        env: { ...m.env },
        inputs: [...m.inputs],
        tools: [...m.tools],
        toolchains: [...m.toolchains],
        sandbox: k.mode,
        executedAtMs: result.executedAtMs,
        durationMs: result.durationMs,
        builder,
      },
      result.files,
    );
  }
}
