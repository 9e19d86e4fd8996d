// The emergency bypasses of the release gate, as JSON Lines in the output base: a bypass is
// appended when it lets a failing artifact through, and stays open until a closing record with a
// postmortem follows it. Appends only; nothing is rewritten.
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "../../base/errors";
import { isObject } from "../../base/untrusted";
import type { GateCheckName } from "../../provenance/release-checks";

export const BYPASS_LOG = "bypasses.jsonl";

export interface BypassRecord {
  version: 1;
  type: "bypass";
  /** the incident ticket */
  id: string;
  reason: string;
  /** ISO 8601, UTC */
  at: string;
  sourceCommit: string;
  artifacts: { artifact: string; sha256: string; failedChecks: GateCheckName[] }[];
}

export interface BypassClosure {
  version: 1;
  type: "close";
  id: string;
  postmortem: string;
  at: string;
}

type LogRecord = BypassRecord | BypassClosure;

const BYPASS_ID = /^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,99}$/;

/** An incident id as a ticket system writes it: `INC-1234`, `SEC:42`. */
export function checkBypassId(id: string): void {
  if (!BYPASS_ID.test(id)) {
    throw new HbError("USAGE", `bypass id '${id}' is not an incident ticket id (letters, digits and . _ : # / -, at most 100)`, {
      hint: "name the incident the bypass is for, e.g. --bypass INC-1234",
    });
  }
}

function logPath(outputBase: string): string {
  return join(outputBase, BYPASS_LOG);
}

/** The log's records, in order; a line that is not one of hb's records is passed over. */
function readLog(outputBase: string): LogRecord[] {
  let text: string;
  try {
    text = readFileSync(logPath(outputBase), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new HbError("UNREADABLE_FILE", `cannot read the bypass log ${logPath(outputBase)}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const records: LogRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (isObject(value) && typeof value.id === "string" && (value.type === "bypass" || value.type === "close"))
      records.push(value as unknown as LogRecord);
  }
  return records;
}

function append(outputBase: string, record: LogRecord): void {
  try {
    // one write of one line, in append mode: concurrent appends do not interleave
    appendFileSync(logPath(outputBase), `${JSON.stringify(record)}\n`, { mode: 0o644 });
  } catch (e) {
    throw new HbError("UNREADABLE_FILE", `cannot append to the bypass log ${logPath(outputBase)}: ${(e as NodeJS.ErrnoException).code}`, {
      hint: "the gate records every bypass; give it a writable output base (--output-base DIR)",
    });
  }
}

/** Bypasses with no closing record after them, oldest first. */
export function openBypasses(outputBase: string): BypassRecord[] {
  const open = new Map<string, BypassRecord[]>();
  for (const r of readLog(outputBase)) {
    if (r.type === "bypass") open.set(r.id, [...(open.get(r.id) ?? []), r]);
    else open.delete(r.id);
  }
  return [...open.values()].flat().sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

export function recordBypass(outputBase: string, record: BypassRecord): void {
  append(outputBase, record);
}

/** Closes every open bypass of incident `id`; it must be open, and the postmortem a web address. */
export function closeBypass(outputBase: string, id: string, postmortem: string, now = new Date()): BypassClosure {
  checkBypassId(id);
  let url: URL | undefined;
  try {
    url = new URL(postmortem);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
    throw new HbError("USAGE", `--postmortem must be the postmortem's http(s) address, got '${postmortem}'`, {
      hint: "a bypass is closed only by its written postmortem: --postmortem https://...",
    });
  }
  const open = openBypasses(outputBase);
  if (!open.some((b) => b.id === id)) {
    const ids = [...new Set(open.map((b) => b.id))];
    throw new HbError("USAGE", `no open bypass '${id}' in ${logPath(outputBase)}`, {
      hint: ids.length > 0 ? `open bypasses: ${ids.join(", ")}` : "there is no open bypass",
    });
  }
  const closure: BypassClosure = { version: 1, type: "close", id, postmortem, at: now.toISOString() };
  append(outputBase, closure);
  return closure;
}
