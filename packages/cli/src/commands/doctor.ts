import { doctor } from "@hb/core/engine";
import { type Command, choiceOption, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";

const MARK = { pass: "PASS", warn: "WARN", fail: "FAIL" } as const;

export const doctorCommand: Command = {
  name: "doctor",
  summary: "How far this workspace is from the supply-chain readiness checklist: 12 points, PASS / WARN / FAIL, each with what to do.",
  usage: "hb doctor [--output text|json]",
  description: [
    "Judges each point from the workspace's graph and hb.config.ts, its CI configuration (.github/workflows,",
    ".gitlab-ci.yml) and its run records, says the evidence it used, and for a point not passing the one",
    "thing to do. Exit 1 when a point fails.",
  ].join("\n"),
  options: {
    output: {
      type: "string",
      valueName: "FORMAT",
      description: "text (default) or json: { checks: [{ id, title, status, evidence, fix }] }",
    },
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
  },
  positionals: false,
  async run({ values, cwd, signal }) {
    const report = await doctor({
      cwd,
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      analyzerScript: ANALYZER_SCRIPT,
      signal,
    });
    if ((choiceOption(values, "output", ["text", "json"] as const) ?? "text") === "json")
      process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else {
      const lines = report.checks.map((c, i) => {
        const head = `${String(i + 1).padStart(2)}. ${MARK[c.status]}  ${c.title}: ${c.evidence}`;
        return c.fix ? `${head}\n          do: ${c.fix}` : head;
      });
      const count = (s: keyof typeof MARK) => report.checks.filter((c) => c.status === s).length;
      lines.push(`hb doctor: ${count("pass")} pass, ${count("warn")} warn, ${count("fail")} fail`);
      process.stdout.write(lines.join("\n") + "\n");
    }
    return report.checks.some((c) => c.status === "fail") ? 1 : 0;
  },
};
