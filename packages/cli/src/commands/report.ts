import { resolve } from "node:path";
import { HbError, trustReport } from "@hb/core/engine";
import { type Command, choiceOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import { checkReportFile, writeTextFile } from "../ui/report-file";
import { trustReportHtml, trustReportText } from "../ui/trust-report";

export const reportCommand: Command = {
  name: "report",
  summary:
    "The five SLIs week by week (reproducibility, hermeticity, cache incidents, time to explain, provenance coverage), from run records.",
  usage: "hb report [--since 8w] [--runs DIR]... [--server URL] [--output text|json|html] [--out FILE]",
  description: [
    "Reads the run records of this output base (every build, test, verify, gate, attest verify and explain",
    "appends one) and those given with --runs (CI artifacts: record files, --report files, or directories of them;",
    "records from many machines merge by id). Each SLI per ISO week, with its counts; then cache hits",
    "by tier, the slowest actions, why the last build ran what it ran, flaky tests, open gate bypasses.",
    "html writes one self-contained page (no network): a chart per SLI, and the tables.",
  ].join("\n"),
  options: {
    since: {
      type: "string",
      valueName: "PERIOD",
      description: "how far back: 8w (default: this week and the 7 before), 30d, or a date such as 2026-10-01 (at most 520 weeks)",
    },
    runs: {
      type: "string",
      multiple: true,
      valueName: "DIR",
      description: "more run records: a records file, a --report file, or a directory of *.jsonl and *.json",
    },
    server: { type: "string", valueName: "URL", description: "a team cache whose /metrics counts what it refused (token: HB_CACHE_TOKEN)" },
    output: { type: "string", valueName: "FORMAT", description: "text (default), json or html" },
    out: { type: "string", valueName: "FILE", description: "write the report to FILE instead of standard output" },
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
  },
  positionals: false,
  async run({ values, cwd, signal }) {
    const output = choiceOption(values, "output", ["text", "json", "html"] as const) ?? "text";
    const out = stringOption(values, "out");
    if (out) checkReportFile(cwd, out);
    const server = stringOption(values, "server");
    if (server !== undefined && !/^https?:\/\//.test(server))
      throw new HbError("USAGE", `--server ${server}: give the cache's http(s):// URL`);
    const report = await trustReport({
      cwd,
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      since: stringOption(values, "since"),
      runs: ((values.runs as string[] | undefined) ?? []).map((r) => resolve(cwd, r)),
      server: server ? { url: server, token: process.env.HB_CACHE_TOKEN } : undefined,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
    });
    const text =
      output === "json"
        ? JSON.stringify(report, null, 2) + "\n"
        : output === "html"
          ? trustReportHtml(report)
          : trustReportText(report) + "\n";
    if (out) writeTextFile(cwd, out, text);
    else process.stdout.write(text);
    return 0;
  },
};
