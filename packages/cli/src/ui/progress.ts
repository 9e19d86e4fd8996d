import type { ActionOutcome, ActionSpec, BuildEvents, BuildReport, Warning } from "@hb/core/engine";
import { warningText } from "./messages";
import type { Terminal } from "./terminal";

/**
 * Build progress: on a terminal one live line `[done/total] running: <labels>`; otherwise a
 * plain line as each action starts. Failures, warnings and action output print as they come.
 */
export class BuildProgress implements Required<
  Pick<BuildEvents, "planned" | "actionStarted" | "actionFinished" | "outputsFailed" | "warning">
> {
  private total = 0;
  private done = 0;
  private started = 0;
  private readonly running = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly term: Terminal) {}

  analyzing(): void {
    this.term.status("hb: analyzing (evaluating BUILD.ts files)...");
  }

  lockWait(message: string): void {
    this.term.line(`hb: ${message}`);
  }

  buildFileLog(line: string): void {
    this.term.line(`DEBUG: ${line}`);
  }

  planned(actions: number): void {
    this.total = actions;
    if (this.term.isTTY && !this.timer) {
      this.timer = setInterval(() => this.render(), 100);
      this.timer.unref();
    }
  }

  actionStarted(a: ActionSpec): void {
    this.started++;
    this.running.set(a.id, a.owner);
    const unsandboxed = a.tags.includes("no-sandbox") ? " [UNSANDBOXED: tag no-sandbox]" : "";
    if (!this.term.isTTY || unsandboxed) this.term.line(`[${this.done + this.running.size}/${this.total}] ${a.progress}${unsandboxed}`);
    else this.render();
  }

  actionFinished(o: ActionOutcome): void {
    this.done++;
    this.running.delete(o.action.id);
    if (o.status === "failed" && o.error) this.term.error(o.error);
    else if (o.status === "executed" && o.result) {
      const out = `${o.result.stdout}${o.result.stderr}`.trimEnd();
      if (out) this.term.line(`INFO: From ${o.action.progress}:\n${out}`);
    }
    if (this.term.isTTY) this.render();
  }

  outputsFailed(o: ActionOutcome): void {
    if (o.error) this.term.error(o.error);
  }

  fetching(url: string): void {
    this.term.line(`hb: fetching ${url}`);
  }

  warning(w: Warning): void {
    this.term.warn(warningText(w));
  }

  private render(): void {
    if (this.running.size === 0) {
      this.term.clearStatus();
      return;
    }
    const labels = [...this.running.values()];
    const shown = labels.slice(0, 3).join(", ") + (labels.length > 3 ? ` (+${labels.length - 3} more)` : "");
    this.term.status(`[${this.done}/${this.total}] running: ${shown}`);
  }

  finish(report: BuildReport): void {
    if (this.timer) clearInterval(this.timer);
    this.term.clearStatus();
    for (const i of report.incidents) this.term.warn(`cache: ${i.detail}`);
    if (report.remote) {
      const r = report.remote;
      const rejected = Object.entries(r.rejected)
        .map(([why, n]) => `${n} ${why}`)
        .join(", ");
      const refusedUploads = Object.entries(r.refusedUploads)
        .map(([why, n]) => `${n} ${why}`)
        .join(", ");
      this.term.line(
        `hb: remote cache ${r.url}: ${r.hits} hits, ${r.misses} misses, ${r.bytesDownloaded} bytes down, ${r.uploads} uploads (${r.bytesUploaded} bytes up)` +
          (rejected ? `, refused: ${rejected}` : "") +
          (refusedUploads ? `, uploads refused by the server: ${refusedUploads}` : "") +
          (r.unavailable ? ` [unavailable: ${r.unavailable}]` : ""),
      );
    }
    const cached = report.cached.local + report.cached.remote;
    const remote = report.cached.remote > 0 ? ` (${report.cached.remote} remote)` : "";
    const skipped = report.skipped > 0 ? `, ${report.skipped} not run` : "";
    const sandbox = report.sandbox === "none" ? " [UNSANDBOXED: --sandbox=none]" : "";
    const interrupted = report.interrupted ? " (interrupted)" : "";
    this.term.line(
      `hb: ${report.actions} actions: ${report.executed} executed, ${cached} cached${remote}, ${report.failed} failed${skipped}${interrupted} in ${(report.durationMs / 1000).toFixed(2)} s${sandbox}`,
    );
  }
}

/** targets whose outputs a build lists by name; past it, a count (a //... build lists hundreds) */
const LISTED_TARGETS = 10;
const LISTED_OUTPUTS = 10;

/**
 * What a successful `hb build` made, as Bazel ends a build: each requested target and where its
 * outputs are, so that no one has to guess the path under hb-out/.
 */
export function printTargetOutputs(term: Terminal, report: BuildReport): void {
  const targets = report.targets;
  if (targets.length > LISTED_TARGETS) {
    term.line(`hb: ${targets.length} targets up to date (--report FILE lists each one's outputs)`);
    return;
  }
  for (const t of targets) {
    if (t.outputs.length === 0) {
      term.line(`Target ${t.label} up to date (no output files)`);
      continue;
    }
    term.line(`Target ${t.label} up to date:`);
    for (const o of t.outputs.slice(0, LISTED_OUTPUTS)) term.line(`  ${o.path}`);
    if (t.outputs.length > LISTED_OUTPUTS) term.line(`  ... and ${t.outputs.length - LISTED_OUTPUTS} more`);
  }
}

/**
 * Why `--remote-upload` uploaded nothing when every action was cached: hb uploads the results it
 * runs, so a developer re-running CI's command (or CI reusing an output base) sees 0 uploads.
 */
export function printNoUploadReason(term: Terminal, report: BuildReport): void {
  const r = report.remote;
  if (r?.unavailable || (r !== undefined && r.uploads > 0) || report.failed > 0 || report.executed > 0) return;
  term.line(
    `hb: --remote-upload uploaded nothing: every action was cached (${report.cached.local} local, ${report.cached.remote} remote), and hb uploads only the results it runs; a build from an empty output base (a fresh CI job's) uploads all it builds`,
  );
}
