import { HbError, build, type TestResult } from "@hb/core/engine";
import { type Command, stringOption } from "../args";
import { BuildProgress } from "../ui/progress";
import { checkReportFile, writeJsonFile } from "../ui/report-file";
import { createTerminal } from "../ui/terminal";
import { AUDIT_OPTION, BUILD_OPTIONS, REMOTE_OPTIONS, buildFlags, buildRequest, printAudit, remoteRequest } from "./build-options";

export const testCommand: Command = {
  name: "test",
  summary: "Build and run the test targets (node_test, ts_check, ...) among the patterns, in the sandbox.",
  usage: "hb test [options] <pattern>...",
  description: [
    "Tests run in parallel, each in its own sandbox. A test that passed with the same inputs before is",
    "not run again: it is reported CACHED, as Bazel does. Targets tagged no-sandbox run unsandboxed.",
    "exit codes: 0 all passed, 3 a test failed, 4 no test matched, 1 a build step failed, 2 bad input",
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
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    if (positionals.length === 0) throw new HbError("USAGE", "hb test needs at least one target pattern", { hint: "e.g. hb test //..." });
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
    const tests = result.tests ?? [];
    const width = Math.max(...tests.map((t) => t.label.length));
    const show: Record<TestResult["status"], string> = { passed: "PASSED", cached: "CACHED", failed: "FAILED", "not run": "NOT RUN" };
    for (const t of tests) {
      const time = t.status === "passed" || t.status === "failed" ? ` in ${(t.durationMs / 1000).toFixed(2)} s` : "";
      term.line(`${t.label.padEnd(width)}  ${show[t.status]}${time}`);
    }
    const count = (s: TestResult["status"]) => tests.filter((t) => t.status === s).length;
    term.line(
      `hb: ${tests.length} tests: ${count("passed") + count("cached")} passed (${count("cached")} cached), ${count("failed")} failed${count("not run") ? `, ${count("not run")} not run` : ""}`,
    );
    printAudit(term, result.report);
    if (flags.report) writeJsonFile(cwd, flags.report, result.report);
    return result.exitCode;
  },
};
