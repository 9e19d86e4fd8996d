import { setFlagsFromString } from "node:v8";
import { type ExitCode, HbError, type Rebuild, watch } from "@hb/core/engine";
import { type Command, type CommandContext, intOption } from "../args";
import { checkReportFile, writeReportAfter } from "../ui/report-file";
import { type Terminal, createTerminal } from "../ui/terminal";
import { WatchProgress } from "../ui/watch-progress";
import { BUILD_OPTIONS, buildFlags, buildRequest } from "./build-options";

/**
 * How far V8 lets the old generation grow past what its last full collection kept, in percent,
 * in a watch. By default V8 lets it grow up to fourfold when collecting is cheap next to the
 * program's allocating, as it is for a process that mostly waits. A watch of 600 packages kept
 * about 24 MiB alive, yet its RSS rose from 158 to 196 MiB over 100 edits without a full
 * collection (issue 17): V8 had judged, in the first build, that objects from some allocation
 * sites live long, and allocated them straight into the old generation (pretenuring), where each
 * rebuild's left them as garbage. 30 is the factor V8 itself takes when it favors memory (its
 * conservative growing factor, 1.3): the same watch stayed at 155-160 MiB, for no CPU measured.
 * It is read at each full collection, so setting it once the process runs takes.
 */
const WATCH_HEAP_GROWING_PERCENT = 30;

/** For tests (the sysctl is machine-wide): act as if the system refused a watch beyond this many directories. */
const WATCH_LIMIT_ENV = "HB_WATCH_LIMIT";

/** What every --watch says in its help. */
export const WATCH_DESCRIPTION = [
  "Watches the directories holding the targets' sources, their packages' BUILD.ts (and what they import),",
  "hb.config.ts and lockfiles; never hb-out/, the output base or ignored directories. A change is a change",
  "of content: a touch or a save of the same bytes runs nothing; a burst of changes is one rebuild; a change",
  "while a build runs stops the actions it made stale and starts over. A failure is said once and stands",
  "until its inputs change; everything it does not stop is built. The watch holds the output base (another",
  "hb waits until it stops). Ctrl-C stops it; it exits with the last build's code.",
].join("\n");

/** The options every watch takes: the build's, with keep-going always on and a report per build. */
export const WATCH_OPTIONS = {
  ...BUILD_OPTIONS,
  "keep-going": { ...BUILD_OPTIONS["keep-going"]!, description: "always on for a watch: everything a failure does not stop is built" },
  report: {
    ...BUILD_OPTIONS.report!,
    description: "after each build, write its summary as JSON to FILE (with watch: build number, what changed, timing)",
  },
};

/**
 * Builds `patterns`, then rebuilds what each change reaches until Ctrl-C: the shared build flags,
 * a block of output per build, the report rewritten after each. `hooks` hear a change as soon as
 * it is seen and each finished build once it is said (hb run --watch restarts programs there).
 */
export async function runWatch(
  ctx: CommandContext,
  patterns: string[],
  hooks: { tests?: boolean; term?: Terminal; changed?(paths: string[]): void; rebuilt?(r: Rebuild): void } = {},
): Promise<ExitCode> {
  const { values, cwd, signal } = ctx;
  // a watch lives long and idles: its heap is collected before it grows far (this process is the watch's alone)
  setFlagsFromString(`--heap-growing-percent=${WATCH_HEAP_GROWING_PERCENT}`);
  const flags = buildFlags(values);
  const report = flags.report ? checkReportFile(cwd, flags.report) : undefined;
  const term = hooks.term ?? createTerminal();
  const progress = new WatchProgress(term, {
    showTests: hooks.tests,
    changed: hooks.changed,
    finished: (r) => {
      if (!flags.report) return;
      const { report, tests, changed, exitCode, standing, timing } = r;
      const watching = { build: r.number, changed, exitCode, standing, timing };
      // a report that cannot be written is said, and the watch goes on: the build's result stands
      writeReportAfter(term, cwd, flags.report, { ...report, ...(tests ? { tests } : {}), watch: watching }, exitCode);
    },
    rebuilt: hooks.rebuilt,
  });
  const limit = process.env[WATCH_LIMIT_ENV];
  return watch({
    ...buildRequest(flags, { cwd, patterns, signal, term, progress }),
    keepGoing: true,
    tests: hooks.tests,
    ownFiles: report ? [report] : [],
    watchLimit: limit === undefined ? undefined : intOption({ [WATCH_LIMIT_ENV]: limit }, WATCH_LIMIT_ENV, 0),
    events: progress,
  });
}

export const watchCommand: Command = {
  name: "watch",
  summary: "Build targets, then rebuild what each change to a source, BUILD.ts or hb.config.ts reaches, until Ctrl-C.",
  usage: "hb watch [options] <pattern>...",
  description: WATCH_DESCRIPTION,
  options: WATCH_OPTIONS,
  positionals: true,
  async run(ctx) {
    if (ctx.positionals.length === 0) {
      throw new HbError("USAGE", "hb watch needs at least one target pattern", { hint: "e.g. hb watch //...  or  hb watch //app:bundle" });
    }
    return runWatch(ctx, ctx.positionals);
  },
};
