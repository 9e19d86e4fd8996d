import type { ExecPath } from "../base/graph";
import type { ActionSpec } from "../base/graph";
import type { KeyedAction } from "../keying/action-keyer";

/** An action keyed and missed by the local cache: what the scheduler hands to a runner. */
export interface Job<A extends ActionSpec = ActionSpec> {
  readonly id: number;
  readonly action: A;
  readonly keyed: KeyedAction;
  /** the sandbox's name: stable per action */
  readonly stageName: string;
  /** where its outputs directory is bound: hb-out/<package> */
  readonly writableAt: ExecPath;
  /** its result may be cached (not audited, not tagged no-cache, cache on) */
  readonly cacheable: boolean;
  /** stops this action's run: the build's signal, or one of its own */
  readonly signal: AbortSignal;
}
