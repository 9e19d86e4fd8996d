import { join } from "node:path";
import { HbError, build } from "@hb/core/engine";
import type { Command } from "../args";
import { RESTART_POLICIES, runWatching } from "./run-watch";
import { WATCH_DESCRIPTION } from "./watch";
import { BuildProgress } from "../ui/progress";
import { checkReportFile, writeReportAfter } from "../ui/report-file";
import { createTerminal } from "../ui/terminal";
import { BUILD_OPTIONS, buildFlags, buildRequest } from "./build-options";

export const runCommand: Command = {
  name: "run",
  summary: "Build an executable target (node_binary, an executable genrule) and run it with arguments.",
  usage: "hb run [options] <target> [-- <args>...]   |   hb run --watch [--restart POLICY] <target>... [-- <args>...]",
  description: [
    "The program runs on this machine, not in the sandbox, in the current directory, with BUILD_WORKSPACE_DIRECTORY set; hb exits with its exit code.",
    "",
    "--watch: builds the targets, runs each program in a process group of its own, and rebuilds what each change",
    "reaches. --restart says what a program gets then: after-build (the default) restarts it after a successful",
    "build that changed its outputs; on-change stops it as soon as a change is seen and starts it after the build;",
    "notify keeps it running and writes one line of JSON per finished build to its standard input",
    '({"build":"ok"|"failed","number":N,"changed":[...],"outputsChanged":true|false}). A failed build keeps the',
    "last good program running. Stopping the watch stops every program's process group.",
    WATCH_DESCRIPTION,
  ].join("\n"),
  options: {
    ...BUILD_OPTIONS,
    watch: { type: "boolean", description: "rebuild on each change and restart (or notify) the programs, until Ctrl-C (see above)" },
    restart: {
      type: "string",
      multiple: true,
      valueName: "POLICY",
      description: `with --watch: ${RESTART_POLICIES.join(" | ")} for every target, or LABEL=POLICY for one`,
    },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    const [target, ...rest] = positionals;
    if (!target) throw new HbError("USAGE", "hb run needs a target", { hint: "e.g. hb run //app:cli -- --help" });
    if (values.watch === true)
      return runWatching({ values, positionals, cwd, signal }, positionals, programArgs, (values.restart as string[]) ?? []);
    if (values.restart !== undefined) throw new HbError("USAGE", "--restart goes with --watch", { hint: `hb run --watch ${target}` });
    if (rest.length > 0)
      throw new HbError("USAGE", `hb run builds one target; put the program's arguments after --: hb run ${target} -- ${rest.join(" ")}`);
    const flags = buildFlags(values);
    if (flags.report) checkReportFile(cwd, flags.report);
    const term = createTerminal();
    const progress = new BuildProgress(term);
    const result = await build(buildRequest(flags, { cwd, patterns: [target], signal, term, progress }));
    progress.finish(result.report);
    if (flags.report) writeReportAfter(term, cwd, flags.report, result.report, result.exitCode);
    if (result.exitCode !== 0) return result.exitCode;
    const label = result.graph.requested[0];
    const info = result.graph.targets.find((t) => t.label === label);
    if (!info?.executable) {
      throw new HbError("USAGE", `${label} is not executable (${info?.kind ?? "unknown kind"})`, {
        hint: "hb run takes a node_binary, or a genrule with executable: true",
      });
    }
    const { execa } = await import("execa");
    const r = await execa(join(result.workspace.root, info.executable), programArgs, {
      cwd,
      stdio: "inherit",
      reject: false,
      env: { BUILD_WORKSPACE_DIRECTORY: result.workspace.root },
      cancelSignal: signal,
    });
    if (r.exitCode === undefined && r.signal === undefined && !r.isCanceled) {
      const why = (r.cause as Error | undefined)?.message ?? r.shortMessage;
      throw new HbError("RUN_FAILED", `could not start ${info.executable}: ${why}`, {
        hint: "the command that makes it must mark it executable (chmod +x $@) and start it with a #! line",
      });
    }
    return r.exitCode ?? 1;
  },
};

/** Everything after the first `--` on hb's command line: the program's arguments. */
const programArgs = (() => {
  const i = process.argv.indexOf("--");
  return i < 0 ? [] : process.argv.slice(i + 1);
})();
