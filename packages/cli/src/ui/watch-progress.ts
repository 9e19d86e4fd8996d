import {
  type ActionOutcome,
  type ActionSpec,
  type HbError,
  MAX_WATCHES_SYSCTL,
  type Rebuild,
  type TestResult,
  type WatchEvents,
  type WatchMode,
  type Warning,
} from "@hb/core/engine";
import { BuildProgress } from "./progress";
import type { Terminal } from "./terminal";

function named(paths: readonly string[]): string {
  return paths.length > 3 ? `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more` : paths.join(", ");
}

/** The first line of a watch: how many directories, and how (polling, when the system refuses more watches). */
export function watchingText(directories: number, mode: WatchMode): string {
  const dirs = `${directories} ${directories === 1 ? "directory" : "directories"}`;
  if (mode.kind === "native") return `hb: watching ${dirs} for changes (Ctrl-C to stop)`;
  const now = mode.maxUserWatches !== undefined ? `; it is ${mode.maxUserWatches} now` : "";
  const raise = Math.max(524288, (mode.maxUserWatches ?? 0) * 2);
  return (
    `hb: watching ${dirs} by polling every ${mode.intervalMs} ms (slower): the system refuses more file watches (${mode.code}). ` +
    `Raise the limit: sudo sysctl -w ${MAX_WATCHES_SYSCTL}=${raise}${now}`
  );
}

/** The test lines of a build: label, status and time, and the count. */
export function testLines(tests: readonly TestResult[]): string[] {
  const width = Math.max(...tests.map((t) => t.label.length));
  const show: Record<TestResult["status"], string> = { passed: "PASSED", cached: "CACHED", failed: "FAILED", "not run": "NOT RUN" };
  const lines = tests.map((t) => {
    const time = t.status === "passed" || t.status === "failed" ? ` in ${(t.durationMs / 1000).toFixed(2)} s` : "";
    return `${t.label.padEnd(width)}  ${t.timedOut ? "TIMEOUT" : show[t.status]}${time}`;
  });
  const count = (s: TestResult["status"]) => tests.filter((t) => t.status === s).length;
  const notRun = count("not run") ? `, ${count("not run")} not run` : "";
  lines.push(
    `hb: ${tests.length} tests: ${count("passed") + count("cached")} passed (${count("cached")} cached), ${count("failed")} failed${notRun}`,
  );
  return lines;
}

/**
 * What a watch says: the directories it watches, then one short block per build (what changed,
 * what ran, how long, what failed). A change that runs nothing says nothing.
 */
export class WatchProgress implements WatchEvents {
  private build: BuildProgress;

  constructor(
    private readonly term: Terminal,
    private readonly hooks: {
      /** with hb test --watch: the test lines after each build */
      showTests?: boolean;
      /** after a change is said */
      changed?(paths: string[]): void;
      /** a build finished: before it is said (its report written) */
      finished?(r: Rebuild): void;
      /** after a build is said */
      rebuilt?(r: Rebuild): void;
    } = {},
  ) {
    this.build = new BuildProgress(term);
  }

  watching(directories: number, mode: WatchMode): void {
    this.term.line(watchingText(directories, mode));
  }

  lockWait(message: string): void {
    this.term.line(`hb: ${message}`);
  }

  analyzing(): void {
    this.build.analyzing();
  }

  buildFileLog(line: string): void {
    this.build.buildFileLog(line);
  }

  changed(paths: string[]): void {
    this.term.status(`hb: changed: ${named(paths)}`);
    this.hooks.changed?.(paths);
  }

  planned(actions: number): void {
    this.build = new BuildProgress(this.term);
    this.build.planned(actions);
  }

  actionStarted(a: ActionSpec): void {
    this.build.actionStarted(a);
  }

  actionFinished(o: ActionOutcome): void {
    this.build.actionFinished(o);
  }

  outputsFailed(o: ActionOutcome): void {
    this.build.outputsFailed(o);
  }

  fetching(url: string): void {
    this.build.fetching(url);
  }

  warning(w: Warning): void {
    this.build.warning(w);
  }

  restarting(paths: string[], stopped: number): void {
    const what = stopped > 0 ? `${stopped} stale ${stopped === 1 ? "action" : "actions"} stopped` : "build stopped";
    const where = paths.length > 0 ? named(paths) : "the tree (a file added or removed)";
    this.term.line(`hb: ${where} changed during the build: ${what}, starting over`);
  }

  analysisFailed(error: HbError): void {
    this.term.clearStatus();
    this.term.error(error);
    this.term.line("hb: waiting for a change to the files analysis read (BUILD.ts, hb.config.ts, what they import)");
  }

  building(changed: string[]): void {
    this.term.line(`hb: changed: ${changed.length > 0 ? named(changed) : "the tree"}`);
  }

  rebuilt(r: Rebuild): void {
    this.hooks.finished?.(r);
    this.build.finish(r.report);
    if (this.hooks.showTests && r.tests) for (const l of testLines(r.tests)) this.term.line(l);
    if (r.standing > 0) {
      const s =
        r.standing === 1
          ? "1 earlier failure stands: not run again until its"
          : `${r.standing} earlier failures stand: not run again until their`;
      this.term.line(`hb: ${s} inputs change`);
    }
    this.hooks.rebuilt?.(r);
  }
}
