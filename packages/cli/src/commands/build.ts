import { HbError, build } from "@hb/core/engine";
import { type Command, stringOption } from "../args";
import { BuildProgress, printNoUploadReason, printTargetOutputs } from "../ui/progress";
import { checkReportFile, writeReportAfter } from "../ui/report-file";
import { createTerminal } from "../ui/terminal";
import { AUDIT_OPTION, BUILD_OPTIONS, REMOTE_OPTIONS, buildFlags, buildRequest, printAudit, remoteRequest } from "./build-options";

export const buildCommand: Command = {
  name: "build",
  summary: "Build targets: every action runs sandboxed, outputs land under hb-out/ and in the cache.",
  usage: "hb build [options] <pattern>...",
  description: [
    "patterns: //pkg:name, //pkg (name = last segment), :name (current package),",
    "          //pkg/... (everything below pkg), //... (everything), //pkg:all",
    "exit codes: 0 built, 1 an action failed, 2 bad command line or BUILD.ts, 130 interrupted",
  ].join("\n"),
  options: {
    ...BUILD_OPTIONS,
    provenance: {
      type: "boolean",
      description: "sign in-toto/SLSA provenance for the targets' outputs: <output>.intoto.jsonl beside each",
    },
    "signing-key": {
      type: "string",
      valueName: "FILE",
      description: "Ed25519 private key (PEM, from hb keygen) that signs provenance and uploaded cache entries",
    },
    ...REMOTE_OPTIONS,
    "builder-id": {
      type: "string",
      valueName: "URI",
      description: "the builder id provenance records (default urn:hb:builder:local:<host>)",
    },
    "allow-dirty": { type: "boolean", description: "sign provenance for a tree with uncommitted changes (recorded as dirty)" },
    offline: { type: "boolean", description: "skip the fetch step: fail if an external input is not fetched yet (run hb fetch first)" },
    locked: { type: "boolean", description: "pin nothing into hb.lock.json: fail on an npm tarball it does not pin (CI)" },
    ...AUDIT_OPTION,
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    if (positionals.length === 0) {
      throw new HbError("USAGE", "hb build needs at least one target pattern", { hint: "e.g. hb build //...  or  hb build //app:bundle" });
    }
    const flags = buildFlags(values);
    if (flags.report) checkReportFile(cwd, flags.report);
    const signingKey = stringOption(values, "signing-key");
    if (values.provenance === true && !signingKey) {
      throw new HbError("USAGE", "--provenance needs --signing-key FILE", {
        hint: "create a key pair outside the workspace (never committed; the tree stays clean): hb keygen --out ~/.hb-keys",
      });
    }
    const term = createTerminal();
    const progress = new BuildProgress(term);
    const result = await build({
      ...buildRequest(flags, { cwd, patterns: positionals, signal, term, progress }),
      audit: values.audit === true,
      offline: values.offline === true,
      locked: values.locked === true,
      provenance:
        values.provenance === true
          ? { signingKey: signingKey!, builderId: stringOption(values, "builder-id"), allowDirty: values["allow-dirty"] === true }
          : undefined,
      remote: remoteRequest(values, signingKey),
    });
    progress.finish(result.report);
    if (values["remote-upload"] === true) printNoUploadReason(term, result.report);
    if (result.exitCode === 0) printTargetOutputs(term, result.report);
    printAudit(term, result.report);
    for (const a of result.report.attestations ?? []) term.line(`hb: provenance: ${a}`);
    return flags.report ? writeReportAfter(term, cwd, flags.report, result.report, result.exitCode) : result.exitCode;
  },
};
