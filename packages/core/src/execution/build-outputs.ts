import type { ActionResult, OutputFile } from "../base/action-result";
import { HbError } from "../base/errors";
import type { ActionSpec, ExecPath } from "../base/graph";
import type { LocalCas } from "../caching/local-cas";
import type { Background } from "./background";
import type { Materializer, OutputFacts } from "./materialize";
import type { ActionOutcome } from "./outcome";

/**
 * The generated files of one build: their digests (what later actions are keyed and staged by,
 * from the CAS, never from hb-out/) and their materialization under hb-out/.
 */
export class BuildOutputs {
  readonly files = new Map<ExecPath, OutputFile>();
  private readonly trees = new Map<ExecPath, OutputFile[]>();
  /** executed actions whose outputs could not be put under hb-out/, by action id */
  private readonly notMaterialized = new Map<number, HbError>();

  constructor(
    private readonly cas: LocalCas,
    private readonly materializer: Materializer | undefined,
    private readonly background: Background,
    /** an output could not be put in place: the build has failed */
    private readonly onFailure: () => void,
  ) {}

  /** A generated file's digest, or the files of a generated directory. */
  generated(path: ExecPath): OutputFile | readonly OutputFile[] | undefined {
    return this.files.get(path) ?? this.trees.get(path);
  }

  /** The CAS blob holding a generated file, for staging. */
  blobOf(path: ExecPath, executable: boolean): string | undefined {
    const d = this.files.get(path);
    return d && (executable ? this.cas.getExecutable(d) : this.cas.get(d));
  }

  /** Takes a cached result's outputs as this build's: false when a blob is gone (then a miss). */
  adopt(result: ActionResult, owner: string): boolean {
    if (this.materializer) {
      let lost;
      try {
        lost = this.materializer.materialize(result);
      } catch (e) {
        if (e instanceof HbError) throw e.ofTarget(owner);
        throw e;
      }
      if (lost !== undefined) return false;
    } else if (result.files.some((f) => f.symlink === undefined && !(f.executable ? this.cas.getExecutable(f) : this.cas.get(f)))) {
      return false;
    }
    this.register(result);
    return true;
  }

  /** Takes the outputs of a result an earlier build of this process put under hb-out/, as they are. */
  take(result: ActionResult): void {
    this.register(result);
  }

  /**
   * Takes a fresh result's outputs as this build's. Its blobs were just written, so putting them
   * under hb-out/ cannot miss: that is background work, and the actions waiting for these
   * outputs start at once.
   */
  adoptFresh(action: ActionSpec, result: ActionResult): void {
    this.register(result);
    const materializer = this.materializer;
    if (!materializer) return;
    this.background.push(() => {
      try {
        const lost = materializer.materialize(result);
        if (lost !== undefined) throw new HbError("INTERNAL", `the CAS lost ${lost} before it was materialized`);
      } catch (e) {
        // the action ran and its result is cached, but hb-out/ does not show it: the build failed
        const error = e instanceof HbError ? e : new HbError("INTERNAL", String((e as Error)?.stack ?? e));
        this.notMaterialized.set(action.id, error.ofTarget(action.owner));
        this.onFailure();
      }
    });
  }

  /** The directories of `files` (exec paths about to be materialized) are made ahead, on a thread. */
  prepareDirs(files: Iterable<ExecPath>): void {
    this.materializer?.prepareDirs(files);
  }

  /** Ends the build's materializing: no directory made ahead any more, its records written. */
  async close(): Promise<void> {
    await this.materializer?.stopAhead();
    this.materializer?.flush();
  }

  /** What was materialized for every output of this build; undefined if one is unknown (or nothing is materialized). */
  recorded(): OutputFacts[] | undefined {
    return this.materializer?.recorded(this.files.keys());
  }

  /** Executed actions whose outputs could not be put under hb-out/ become failures: those outcomes, changed. */
  failUnmaterialized(outcomes: readonly ActionOutcome[]): ActionOutcome[] {
    const failed: ActionOutcome[] = [];
    for (const o of outcomes) {
      const error = this.notMaterialized.get(o.action.id);
      if (!error || o.status === "failed") continue;
      o.status = "failed";
      o.error = error;
      failed.push(o);
    }
    return failed;
  }

  /** What an action that failed (or was skipped for a failure) left in hb-out/ from an earlier run no longer stands for its inputs. */
  removeStale(a: ActionSpec): void {
    this.materializer?.removeStale([...a.outputs, ...a.outputDirs]);
  }

  private register(result: ActionResult): void {
    for (const d of result.dirs)
      this.trees.set(
        d,
        result.files.filter((f) => f.path.startsWith(d + "/")),
      );
    for (const f of result.files) this.files.set(f.path, f);
  }
}
