import type { Warning } from "../base/errors";
import type { ResultCache } from "../caching/result-cache";
import { type ResolvedToolchain, changedToolchains, toolchainKey } from "../keying/toolchains";
import type { StatCache } from "../keying/stat-cache";
import type { ActionOutcome } from "./outcome";

/**
 * A toolchain is read live by the actions that use it: results made with one that changed while
 * the build ran may come from the new bytes under the old key. They are taken out of the action
 * cache, and the build says so.
 */
export function forgetChangedToolchains(
  outcomes: readonly ActionOutcome[],
  toolchains: Iterable<ResolvedToolchain>,
  stats: StatCache,
  results: ResultCache,
  warn: (w: Warning) => void,
): void {
  const users = (t: ResolvedToolchain) =>
    outcomes.filter((o) => o.status === "executed" && o.key && o.action.toolchains.some((r) => toolchainKey(r) === toolchainKey(t.ref)));
  const used = [...toolchains].filter((t) => users(t).length > 0);
  for (const t of changedToolchains(used, stats)) {
    const stale = users(t);
    for (const o of stale) results.forget(o.key!);
    warn({ code: "TOOLCHAIN_CHANGED", path: t.ref.path, labels: stale.map((o) => o.action.owner), uploaded: results.uploading });
  }
}
