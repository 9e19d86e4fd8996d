import { describe, expect, it } from "vitest";
import type { ActionStatus } from "./outcome";
import { type Runner, Scheduler, type Step } from "./scheduler";

// The scheduler driven by a fake runner: no files, no processes; each job resolves when the test says.

interface Job {
  id: number;
}

/** A runner whose jobs wait for `release`, recording what the scheduler asked, in order. */
function fakeRunner(plan: (id: number) => Step<Job>) {
  const log: string[] = [];
  const pending = new Map<number, (s: ActionStatus | Error) => void>();
  const remotes = new Map<number, (hit: boolean) => void>();
  let running = 0;
  let maxRunning = 0;
  const statuses = new Map<number, ActionStatus>();
  const runner: Runner<Job> = {
    prepare: (id) => {
      log.push(`prepare ${id}`);
      return plan(id);
    },
    lookupRemote: (job) => new Promise((r) => remotes.set(job.id, r)),
    execute: (job) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push(`execute ${job.id}`);
      return new Promise((resolve, reject) =>
        pending.set(job.id, (s) => {
          running--;
          if (s instanceof Error) reject(s);
          else resolve(s);
        }),
      );
    },
    failed: (job, e) => log.push(`failed ${job.id}: ${(e as Error).message}`),
    waiting: (job) => log.push(`waiting ${job.id}`),
    finished: (id, status) => {
      expect(statuses.has(id)).toBe(false);
      statuses.set(id, status);
    },
    stale: (id) => log.push(`stale ${id}`),
  };
  const release = async (id: number, s: ActionStatus | Error) => {
    pending.get(id)!(s);
    pending.delete(id);
    await new Promise((r) => setImmediate(r));
  };
  const answer = async (id: number, hit: boolean) => {
    remotes.get(id)!(hit);
    await new Promise((r) => setImmediate(r));
  };
  return { runner, log, statuses, release, answer, pending, maxRunning: () => maxRunning };
}

const tick = () => new Promise((r) => setImmediate(r));
const execute = (id: number): Step<Job> => ({ execute: { id } });

describe("Scheduler", () => {
  // 0 -> 1 -> 3, 0 -> 2 -> 3 (3 depends on 1 and 2), 4 apart
  const deps: Record<number, number[]> = { 0: [], 1: [0], 2: [0], 3: [1, 2], 4: [] };
  const options = (o: Partial<{ jobs: number; keepGoing: boolean; signal: AbortSignal; remoteLookups: number }> = {}) => ({
    jobs: 2,
    remoteLookups: 1,
    keepGoing: false,
    signal: new AbortController().signal,
    ...o,
  });

  it("starts an action when all it depends on are done, never more than `jobs` at once", async () => {
    const f = fakeRunner(execute);
    const done = new Scheduler([0, 1, 2, 3, 4], (id) => deps[id]!, f.runner, options()).run();
    await tick();
    expect([...f.pending.keys()]).toEqual([0, 4]);
    await f.release(0, "executed");
    expect([...f.pending.keys()].sort()).toEqual([1, 4]);
    expect(f.log).toContain("waiting 2");
    await f.release(4, "executed");
    await f.release(1, "executed");
    expect([...f.pending.keys()]).toEqual([2]);
    await f.release(2, "executed");
    await f.release(3, "executed");
    await done;
    expect(f.maxRunning()).toBe(2);
    expect([...f.statuses.values()].every((s) => s === "executed")).toBe(true);
  });

  it("skips what depends on a failure, marks its outputs stale, and starts nothing more without keep-going", async () => {
    const f = fakeRunner(execute);
    const done = new Scheduler([0, 1, 2, 3, 4], (id) => deps[id]!, f.runner, options({ jobs: 1 })).run();
    await tick();
    await f.release(0, "executed");
    // 4 was queued first
    await f.release(4, "executed");
    await f.release(1, new Error("exit 1"));
    await done;
    expect(f.statuses.get(1)).toBe("failed");
    expect(f.statuses.get(3)).toBe("skipped");
    // 2 never started: halted
    expect(f.statuses.get(2)).toBe("skipped");
    expect(f.log).not.toContain("execute 2");
    expect(f.log).toContain("failed 1: exit 1");
    expect(f.log.filter((l) => l.startsWith("stale"))).toEqual(["stale 1", "stale 3"]);
  });

  it("with keep-going, builds everything that does not depend on the failure", async () => {
    const f = fakeRunner(execute);
    const done = new Scheduler([0, 1, 2, 3, 4], (id) => deps[id]!, f.runner, options({ jobs: 1, keepGoing: true })).run();
    await tick();
    await f.release(0, "executed");
    await f.release(4, "executed");
    await f.release(1, "failed");
    await f.release(2, "executed");
    await done;
    expect(Object.fromEntries(f.statuses)).toEqual({ 0: "executed", 1: "failed", 2: "executed", 3: "skipped", 4: "executed" });
  });

  it("takes cache hits without executing, and asks the team cache before executing a local miss", async () => {
    const f = fakeRunner((id) => (id === 0 ? { done: "cached" } : id === 4 ? { remote: { id } } : execute(id)));
    const done = new Scheduler([0, 4], (id) => deps[id]!, f.runner, options()).run();
    await tick();
    expect(f.statuses.get(0)).toBe("cached");
    expect(f.pending.has(4)).toBe(false);
    await f.answer(4, false);
    expect(f.pending.has(4)).toBe(true);
    await f.release(4, "executed");
    await done;
    const g = fakeRunner((id) => ({ remote: { id } }));
    const hit = new Scheduler([4], () => [], g.runner, options()).run();
    await tick();
    await g.answer(4, true);
    await hit;
    expect(g.statuses.get(4)).toBe("cached");
    expect(g.log).not.toContain("execute 4");
  });

  it("on abort, lets running actions end and reports the rest as interrupted", async () => {
    const abort = new AbortController();
    const f = fakeRunner(execute);
    const done = new Scheduler([0, 1, 2, 3, 4], (id) => deps[id]!, f.runner, options({ signal: abort.signal })).run();
    await tick();
    abort.abort();
    await f.release(0, "interrupted");
    await f.release(4, "interrupted");
    await done;
    expect(Object.fromEntries(f.statuses)).toEqual({
      0: "interrupted",
      1: "interrupted",
      2: "interrupted",
      3: "interrupted",
      4: "interrupted",
    });
    expect(f.log.some((l) => l.startsWith("stale"))).toBe(false);
  });
});
