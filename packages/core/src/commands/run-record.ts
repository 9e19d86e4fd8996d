import { randomUUID } from "node:crypto";
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SandboxMode } from "../base/action-env";
import type { ActionOutcome } from "../execution/outcome";
import type { RecordsConfig } from "../workspace/config";
import { readGitHead } from "../workspace/git-head";
import { defaultBuilderId } from "../provenance/statement";

// Run records: every command appends one versioned JSON record to the output base; `--report`
// writes the same record. They are the single source of the SLIs, the dashboard and `hb doctor`
// (docs/ARCHITECTURE.md, Run records). Records from many machines merge by their ids.

export const RECORD_SCHEMA_VERSION = 1;
export const RECORDS_FILE = "records.jsonl";

export type RecordedCommand = "build" | "test" | "verify" | "gate" | "attest verify" | "explain";

/** What every record has, whatever the command. */
export interface RecordHeader {
  schemaVersion: typeof RECORD_SCHEMA_VERSION;
  /** unique: records from many machines merge by it */
  id: string;
  command: RecordedCommand;
  /** ISO 8601 */
  startedAt: string;
  durationMs: number;
  /** the checkout: its commit (null outside git), and whether the tree was dirty where the command knew */
  workspace: { commit: string | null; dirty: boolean | null };
  builderId: string;
}

/** How an action ended in a build, for the record: which cache tier served it, or that it ran. */
export interface ActionEntry {
  label: string;
  mnemonic: string;
  key?: string;
  status: "executed" | "local" | "remote" | "failed" | "skipped" | "interrupted";
  /** how it ran (or would have): default, strict, or none (unsandboxed) */
  sandbox?: SandboxMode;
  durationMs: number;
  outputs: { path: string; sha256: string }[];
}

/** A record: the header and the command's report, whole (its other fields are the command's). */
export type RunRecord = RecordHeader & object;

/** How much of the record file is kept: records older than `maxAgeDays`, and the oldest past `maxBytes`, rotate out. */
export interface RecordLimits {
  maxAgeDays: number;
  maxBytes: number;
}

export const DEFAULT_RECORD_LIMITS: RecordLimits = { maxAgeDays: 180, maxBytes: 64 * 1024 * 1024 };

/** The record limits hb.config.ts sets, over the defaults. */
export function recordLimits(config: { records?: RecordsConfig }): RecordLimits {
  return {
    maxAgeDays: config.records?.maxAgeDays ?? DEFAULT_RECORD_LIMITS.maxAgeDays,
    maxBytes: config.records?.maxSizeMiB !== undefined ? config.records.maxSizeMiB * 1024 * 1024 : DEFAULT_RECORD_LIMITS.maxBytes,
  };
}

/** How each action ended, for the record. */
export function actionEntries(outcomes: readonly ActionOutcome[]): ActionEntry[] {
  return outcomes.map((o) => ({
    label: o.action.owner,
    mnemonic: o.action.mnemonic,
    ...(o.key ? { key: o.key } : {}),
    status: o.status === "cached" ? (o.remote ? "remote" : "local") : o.status,
    ...(o.result ? { sandbox: o.result.sandbox } : {}),
    durationMs: o.durationMs,
    outputs: (o.result?.files ?? []).map((f) => ({ path: f.path, sha256: f.hash })),
  }));
}

export function recordHeader(
  command: RecordedCommand,
  root: string,
  startedMs: number,
  opts: { builderId?: string; dirty?: boolean } = {},
): RecordHeader {
  return {
    schemaVersion: RECORD_SCHEMA_VERSION,
    id: randomUUID(),
    command,
    startedAt: new Date(startedMs).toISOString(),
    durationMs: Date.now() - startedMs,
    workspace: { commit: readGitHead(root), dirty: opts.dirty ?? null },
    builderId: opts.builderId ?? defaultBuilderId(),
  };
}

/** Appends `record` to the output base's records, rotating old ones out when the file grew past its limit. */
export function appendRunRecord(outputBase: string, record: RunRecord, limits: RecordLimits = DEFAULT_RECORD_LIMITS): void {
  const file = join(outputBase, RECORDS_FILE);
  // a command that reads, such as hb attest verify in a fresh checkout, may be the first to write there
  mkdirSync(outputBase, { recursive: true });
  appendFileSync(file, `${JSON.stringify(record)}\n`);
  if (statSync(file).size > limits.maxBytes || firstStartedAt(file) < Date.now() - limits.maxAgeDays * 86_400_000)
    rotateRecords(file, limits);
}

/** When the file's first (oldest) record started, from its first line alone. */
function firstStartedAt(file: string): number {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return startedAtOf(buf.subarray(0, n).toString("utf8")) ?? Date.now();
  } finally {
    closeSync(fd);
  }
}

/**
 * When a record started, from the start of its line: the header's fields come first, and a
 * record with every action of a large build is a few hundred kB of JSON not worth parsing here.
 */
function startedAtOf(line: string): number | undefined {
  const at = /"startedAt":"([^"]+)"/.exec(line.slice(0, 4096))?.[1];
  const ms = at === undefined ? NaN : Date.parse(at);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Keeps the newest records within the limits, written whole through a rename (a reader never sees
 * half a file). The newest is kept whatever its size or age: it is the record of the command that
 * just ran, which its user may read next.
 */
export function rotateRecords(file: string, limits: RecordLimits, nowMs = Date.now()): void {
  const oldest = nowMs - limits.maxAgeDays * 86_400_000;
  const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const kept: string[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    // a line a crash cut short (no closing brace) goes with the rotation
    const startedAt = line.endsWith("}") ? startedAtOf(line) : undefined;
    if (startedAt === undefined) continue;
    if (kept.length > 0 && (!(startedAt >= oldest) || bytes + line.length + 1 > limits.maxBytes / 2)) break;
    bytes += line.length + 1;
    kept.push(line);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    kept
      .reverse()
      .map((l) => `${l}\n`)
      .join(""),
  );
  renameSync(tmp, file);
}
