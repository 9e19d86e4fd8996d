import { GATE_CHECKS, type GateResult } from "@hb/core/engine";

const WIDTH = Math.max(...GATE_CHECKS.map((c) => c.length));

/** The gate's answer as text: per artifact, one line per check, then the verdict. */
export function gateReport(r: GateResult): string {
  const lines: string[] = [];
  for (const a of r.artifacts) {
    lines.push(`hb gate ${a.artifact} (sha256 ${a.sha256.slice(0, 12)}…, commit ${r.sourceCommit.slice(0, 12)})`);
    for (const c of a.checks) {
      const mark = c.status === "pass" ? "PASS" : c.status === "fail" ? "FAIL" : "SKIP";
      lines.push(`  ${mark}  ${c.check.padEnd(WIDTH)}  ${c.detail}${c.fix ? `; to fix: ${c.fix}` : ""}`);
    }
    if (a.vsa) lines.push(`  verification summary: ${a.vsa}`);
  }
  const failed = r.artifacts.filter((a) => a.result === "failed");
  if (r.result === "failed") {
    const which = failed.map(
      (a) =>
        `${a.artifact} (${a.checks
          .filter((c) => c.status === "fail")
          .map((c) => c.check)
          .join(", ")})`,
    );
    lines.push(`hb: gate FAILED: ${which.join("; ")}: not to be promoted`);
  } else if (r.result === "bypassed" && r.bypass) {
    lines.push(
      `hb: gate PASSED BY BYPASS ${r.bypass.id} (${JSON.stringify(r.bypass.reason)}): failed checks of ${r.bypass.artifacts.map((a) => `${a.artifact}: ${a.failedChecks.join(", ")}`).join("; ")}`,
    );
  } else {
    lines.push(`hb: gate PASSED: ${r.artifacts.length} artifact(s) may be promoted (policy sha256 ${r.policyDigest.slice(0, 12)}…)`);
  }
  return lines.join("\n");
}

/** Every open bypass, one warning each: they stay loud until a postmortem closes them. */
export function openBypassWarnings(r: GateResult): string[] {
  return r.openBypasses.map(
    (b) =>
      `bypass ${b.id} (${JSON.stringify(b.reason)}, ${b.at}, commit ${b.sourceCommit.slice(0, 12)}) is open: close it with hb gate --close-bypass ${b.id} --postmortem URL`,
  );
}
