import { HbError, build } from "@hb/core/engine";
import { type Command, stringOption } from "../args";
import { BuildProgress, printNoUploadReason } from "../ui/progress";
import { checkReportFile, writeReportAfter } from "../ui/report-file";
import { createTerminal } from "../ui/terminal";
import { testLines } from "../ui/watch-progress";
import { AUDIT_OPTION, BUILD_OPTIONS, REMOTE_OPTIONS, buildFlags, buildRequest, printAudit, remoteRequest } from "./build-options";
import { WATCH_DESCRIPTION, runWatch } from "./watch";

export const testCommand: Command = {
  name: "test",
  summary: "Build and run the test targets (node_test, ts_check, ...) among the patterns, in the sandbox.",
  usage: "hb test [options] <pattern>...",
  description: [
    "Tests run in parallel, each in its own sandbox. A test that passed with the same inputs before is",
    "not run again: it is reported CACHED, as Bazel does. Targets tagged no-sandbox run unsandboxed.",
    "exit codes: 0 all passed, 3 a test failed, 4 no test matched, 1 a build step failed, 2 bad input",
    "",
    "--watch: runs the tests, then re-runs those a change reaches (the others stay CACHED).",
    WATCH_DESCRIPTION,
  ].join("\n"),
  options: {
    ...BUILD_OPTIONS,
    "keep-going": { ...BUILD_OPTIONS["keep-going"]!, description: "always on for hb test: every test whose build succeeded runs" },
    ...AUDIT_OPTION,
    ...REMOTE_OPTIONS,
    "signing-key": {
      type: "string",
      valueName: "FILE",
      description: "Ed25519 private key (PEM, from hb keygen) that signs uploaded cache entries",
    },
    watch: { type: "boolean", description: "after the tests, re-run those each change reaches, until Ctrl-C (see above)" },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    if (positionals.length === 0) throw new HbError("USAGE", "hb test needs at least one target pattern", { hint: "e.g. hb test //..." });
    if (values.watch === true && values.audit === true) {
      throw new HbError("USAGE", "--audit cannot be combined with --watch", { hint: "audit once: hb test --audit <pattern>..." });
    }
    if (values.watch === true) return runWatch({ values, positionals, cwd, signal }, positionals, { tests: true });
    const flags = buildFlags(values);
    if (flags.report) checkReportFile(cwd, flags.report);
    const term = createTerminal();
    const progress = new BuildProgress(term);
    const result = await build({
      ...buildRequest(flags, { cwd, patterns: positionals, signal, term, progress }),
      // every test that can run, runs, whatever failed beside it (as -k would ask anyway)
      keepGoing: true,
      tests: true,
      audit: values.audit === true,
      remote: remoteRequest(values, stringOption(values, "signing-key")),
    });
    progress.finish(result.report);
    if (values["remote-upload"] === true) printNoUploadReason(term, result.report);
    const tests = result.tests ?? [];
    for (const l of testLines(tests)) term.line(l);
    printAudit(term, result.report);
    return flags.report ? writeReportAfter(term, cwd, flags.report, { ...result.report, tests }, result.exitCode) : result.exitCode;
  },
};
