import { type KnownRecord, isBuildRecord } from "../record-kinds";
import type { ActionEntry } from "../run-record";

// What the trust report shows below the SLIs: how the caches serve, what is slow, why the last
// build ran what it ran, which tests flake.

export interface CacheTiers {
  actions: number;
  local: number;
  remote: number;
  executed: number;
  /** (local + remote) / actions; null without actions */
  hitRate: number | null;
}

export interface SlowAction {
  label: string;
  mnemonic: string;
  durationMs: number;
  startedAt: string;
}

export interface FlakyTest {
  label: string;
  key: string;
  /** how many runs of this very key passed and failed */
  passed: number;
  failed: number;
}

/** Actions served by each tier over the builds given (a no-op build counts its actions as local hits). */
export function cacheTiers(records: readonly KnownRecord[]): CacheTiers {
  const t = { actions: 0, local: 0, remote: 0, executed: 0 };
  for (const r of records.filter(isBuildRecord)) {
    t.actions += r.actions;
    t.local += r.cached.local;
    t.remote += r.cached.remote;
    t.executed += r.executed;
  }
  return { ...t, hitRate: t.actions === 0 ? null : (t.local + t.remote) / t.actions };
}

export function slowestActions(records: readonly KnownRecord[], n = 10): SlowAction[] {
  const all: SlowAction[] = [];
  for (const r of records.filter(isBuildRecord)) {
    for (const a of r.actionList)
      if (a.status === "executed") all.push({ label: a.label, mnemonic: a.mnemonic, durationMs: a.durationMs, startedAt: r.startedAt });
  }
  return all.sort((a, b) => b.durationMs - a.durationMs).slice(0, n);
}

/**
 * Tests whose result changed while their key did not: the same inputs, the same command, once
 * passing and once failing. (A passing test is cached by its key, so a pass after a failure of
 * the same key is the tell.)
 */
export function flakyTests(records: readonly KnownRecord[]): FlakyTest[] {
  const byKey = new Map<string, FlakyTest>();
  for (const r of records.filter(isBuildRecord)) {
    if (r.command !== "test" || !r.tests) continue;
    const tests = new Set(r.tests.map((t) => t.label));
    for (const a of r.actionList) {
      if (!a.key || !tests.has(a.label) || (a.status !== "executed" && a.status !== "failed")) continue;
      const f = byKey.get(a.key) ?? { label: a.label, key: a.key, passed: 0, failed: 0 };
      if (a.status === "executed") f.passed++;
      else f.failed++;
      byKey.set(a.key, f);
    }
  }
  return [...byKey.values()].filter((f) => f.passed > 0 && f.failed > 0).sort((a, b) => (a.label < b.label ? -1 : 1));
}

/** The actions the last build ran, each with the key it had the previous time it was recorded (to say why it ran again). */
export function lastBuildMisses(records: readonly KnownRecord[]): { label: string; mnemonic: string; key: string; previousKey?: string }[] {
  const builds = records.filter(isBuildRecord);
  const last = builds[builds.length - 1];
  if (!last) return [];
  // an action is the same from build to build by its target, mnemonic and outputs; its key is what changes
  const slot = (a: ActionEntry) => `${a.label}\0${a.mnemonic}\0${a.outputs.map((o) => o.path).join(",")}`;
  const previous = new Map<string, ActionEntry>();
  for (const r of builds.slice(0, -1)) for (const a of r.actionList) if (a.key) previous.set(slot(a), a);
  return last.actionList
    .filter((a) => a.status === "executed" && a.key)
    .map((a) => {
      const before = previous.get(slot(a));
      return { label: a.label, mnemonic: a.mnemonic, key: a.key!, ...(before && before.key !== a.key ? { previousKey: before.key! } : {}) };
    });
}
