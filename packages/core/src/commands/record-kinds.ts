import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "../base/errors";
import { isObject } from "../base/untrusted";
import type { AttestVerifyRecord } from "./attest-verify";
import type { ExplainRecord } from "./explain";
import type { GateRecord } from "./gate/gate";
import type { BuildReport } from "./report";
import { RECORDS_FILE, RECORD_SCHEMA_VERSION, type RecordedCommand } from "./run-record";
import type { VerifyReport } from "./verify/verify";

// Reading run records back. A record's shape follows its command; a record read from
// records.jsonl, a --report file or another machine's artifacts is data nobody vouches for, so
// each is checked once, field by field, against what its command writes before anything reads it.

/** A record of schema 1 whose fields have the types its command writes. */
export type KnownRecord = BuildReport | VerifyReport | GateRecord | AttestVerifyRecord | ExplainRecord;

export const isBuildRecord = (r: KnownRecord): r is BuildReport => r.command === "build" || r.command === "test";
export const isVerifyRecord = (r: KnownRecord): r is VerifyReport => r.command === "verify";
export const isExplainRecord = (r: KnownRecord): r is ExplainRecord => r.command === "explain";
export const isGateRecord = (r: KnownRecord): r is GateRecord => r.command === "gate";
export const isAttestVerifyRecord = (r: KnownRecord): r is AttestVerifyRecord => r.command === "attest verify";

type Check = (v: unknown) => boolean;

const str: Check = (v) => typeof v === "string";
const num: Check = (v) => typeof v === "number" && Number.isFinite(v);
const bool: Check = (v) => typeof v === "boolean";
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
const arrayOf =
  (check: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(check);
/** An object with at least these fields, each passing its check (other fields are the command's, unread). */
const shape =
  (fields: Record<string, Check>): Check =>
  (v) => {
    if (!isObject(v)) return false;
    for (const key in fields) if (!fields[key]!(v[key])) return false;
    return true;
  };

const output = shape({ path: str, sha256: str });
const ACTION_STATUSES: ReadonlySet<unknown> = new Set(["executed", "local", "remote", "failed", "skipped", "interrupted"]);

const header = shape({
  id: str,
  startedAt: (v) => typeof v === "string" && !Number.isNaN(Date.parse(v)),
  durationMs: num,
  workspace: shape({ commit: (v) => v === null || str(v), dirty: (v) => v === null || bool(v) }),
  builderId: str,
});

const build = shape({
  actions: num,
  executed: num,
  cached: shape({ local: num, remote: num }),
  targets: arrayOf(shape({ label: str, outputs: arrayOf(output) })),
  incidents: Array.isArray,
  failures: arrayOf(shape({ code: str, sandboxMissingFile: optional(bool) })),
  hermeticViolations: optional(num),
  attestations: optional(arrayOf(str)),
  signingKeyId: optional(str),
  remote: optional(shape({ rejected: (v) => isObject(v) && Object.values(v).every(num) })),
  actionList: arrayOf(
    shape({
      label: str,
      mnemonic: str,
      key: optional(str),
      status: (v) => ACTION_STATUSES.has(v),
      sandbox: optional(str),
      durationMs: num,
      outputs: arrayOf(output),
    }),
  ),
  tests: optional(arrayOf(shape({ label: str }))),
});

const SHAPES: Record<RecordedCommand, Check> = {
  build,
  test: build,
  verify: shape({ targets: arrayOf(shape({ label: str, status: str, outputs: arrayOf(output) })) }),
  gate: shape({
    artifacts: arrayOf(shape({ artifact: str, path: str, sha256: str, checks: arrayOf(shape({ check: str, status: str })) })),
  }),
  "attest verify": shape({ artifact: str, path: str, sha256: str, threshold: num, ok: bool, agreeing: num, disagreeing: num }),
  explain: shape({ sha256: str, file: optional(str), producers: num, provenance: num, complete: bool }),
};

/** Whether `v` is a run record of this schema whose command's readers can use it: its header and their fields, typed. */
export function isKnownRecord(v: unknown): v is KnownRecord {
  if (!isObject(v) || v.schemaVersion !== RECORD_SCHEMA_VERSION || typeof v.command !== "string") return false;
  const fields = (SHAPES as Partial<Record<string, Check>>)[v.command];
  return fields !== undefined && header(v) && fields(v);
}

export interface ReadRecords {
  /** each once, oldest first */
  records: KnownRecord[];
  /** lines (or --report files) that are not a usable record: torn, of another schema version, or with fields missing or mistyped */
  skipped: number;
}

function unreadable(path: string, e: unknown): HbError {
  return new HbError("UNREADABLE_FILE", `cannot read run records ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
    hint: "give --runs a records file, a --report file, or a directory of them (such as CI's downloaded artifacts)",
  });
}

/**
 * The output base's records (none yet is none) and those in `runs` (record files, `--report`
 * files, or directories holding them, such as CI artifacts: their `*.jsonl` and `*.json` files),
 * each record once: the same record read from two places is one. A run source that cannot be
 * read is an error: a report that silently left out a CI's records would look complete.
 */
export function readRunRecords(outputBase: string, runs: readonly string[] = []): ReadRecords {
  const own = join(outputBase, RECORDS_FILE);
  const files = existsSync(own) ? [own] : [];
  for (const s of runs) {
    try {
      if (!statSync(s).isDirectory()) {
        files.push(s);
        continue;
      }
      for (const e of readdirSync(s).sort()) {
        const path = join(s, e);
        // a directory named like a record file is not one
        if ((e.endsWith(".jsonl") || e.endsWith(".json")) && statSync(path).isFile()) files.push(path);
      }
    } catch (e) {
      throw unreadable(s, e);
    }
  }
  const byId = new Map<string, KnownRecord>();
  let skipped = 0;
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (e) {
      throw unreadable(f, e);
    }
    // a --report file holds one record, pretty-printed; a records file one per line
    for (const line of f.endsWith(".json") ? [text] : text.split("\n")) {
      if (!line) continue;
      let r: unknown;
      try {
        r = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      if (isKnownRecord(r)) byId.set(r.id, r);
      else skipped++;
    }
  }
  const records = [...byId.values()].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  return { records, skipped };
}
