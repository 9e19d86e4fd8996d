import { HB_LOCK_FILE, fetchExternal } from "@hb/core/engine";
import { warningText } from "../ui/messages";
import { type Command, stringOption } from "../args";
import { ANALYZER_SCRIPT } from "../paths";
import { createTerminal } from "../ui/terminal";

export const fetchCommand: Command = {
  name: "fetch",
  summary: "Fetch the external inputs (http_file, npm_deps) the targets need: the one step with network.",
  usage: "hb fetch [options] [<pattern>...]",
  description: [
    "Downloads every pinned external input of the targets (default //...) into the local CAS, checking",
    "each against its sha256 or lockfile integrity before it is stored, and logs every fetch to",
    "<output base>/fetch-log.jsonl. Afterwards builds work offline (hb build --offline). An npm tarball",
    `the lockfile gives no integrity is pinned by this first fetch into ${HB_LOCK_FILE}, to review and commit;`,
    "with --locked it fails instead.",
  ].join("\n"),
  options: {
    "output-base": { type: "string", valueName: "DIR", description: "hb's state directory (default <workspace>/.hb)" },
    locked: {
      type: "boolean",
      description: `pin nothing: fail on an npm tarball without an integrity that ${HB_LOCK_FILE} does not pin (CI)`,
    },
  },
  positionals: true,
  async run({ values, positionals, cwd, signal }) {
    const term = createTerminal();
    const r = await fetchExternal({
      cwd,
      patterns: positionals.length > 0 ? positionals : ["//..."],
      outputBase: stringOption(values, "output-base") ?? process.env.HB_OUTPUT_BASE,
      analyzerScript: ANALYZER_SCRIPT,
      locked: values.locked === true,
      signal,
      onFetch: (url) => term.line(`hb: fetching ${url}`),
      onLockWait: (m) => term.line(`hb: ${m}`),
    });
    if (r.pinned > 0) term.line(`WARNING: ${warningText({ code: "PINNED_ON_FIRST_FETCH", file: HB_LOCK_FILE, count: r.pinned })}`);
    term.line(`hb: fetched ${r.fetched} (${r.bytes} bytes), ${r.cached} already present; log: ${r.log}`);
    return 0;
  },
};
