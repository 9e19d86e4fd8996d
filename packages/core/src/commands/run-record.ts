import { randomUUID } from "node:crypto";
import { appendFileSync, closeSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from "node:fs";
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
    const at = /"startedAt":"([^"]+)"/.exec(buf.subarray(0, n).toString("utf8"))?.[1];
    return at ? Date.parse(at) : Date.now();
  } finally {
    closeSync(fd);
  }
}

/** How much of the record file rotation reads at once, scanning for line ends and copying what it keeps. */
const ROTATE_CHUNK = 1 << 20;

/**
 * Keeps the newest records within the limits, written whole through a rename (a reader never sees
 * half a file). The newest is kept whatever its size or age: it is the record of the command that
 * just ran, which its user may read next. A line that is no record (torn by a crash) is dropped.
 * The file is read a chunk at a time and one line at a time, never whole: a watch rotates a file
 * of 64 MiB every few dozen rebuilds of a large graph, and reading it as one string held about
 * 180 MiB at once (issue 17).
 */
export function rotateRecords(file: string, limits: RecordLimits, nowMs = Date.now()): void {
  const oldest = nowMs - limits.maxAgeDays * 86_400_000;
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(file, "r");
  try {
    const lines = lineSpans(fd);
    const kept: [number, number][] = [];
    let bytes = 0;
    for (let i = lines.length - 1; i >= 0; i--) {
      const [start, end] = lines[i]!;
      let startedAt: number;
      try {
        startedAt = Date.parse((JSON.parse(readSpan(fd, start, end).toString("utf8")) as RecordHeader).startedAt);
      } catch {
        continue;
      }
      const size = end - start + 1;
      if (kept.length > 0 && (!(startedAt >= oldest) || bytes + size > limits.maxBytes / 2)) break;
      bytes += size;
      kept.push([start, end]);
    }
    const out = openSync(tmp, "w");
    try {
      for (const [start, end] of kept.reverse()) {
        for (let at = start; at < end; at += ROTATE_CHUNK) writeSync(out, readSpan(fd, at, Math.min(end, at + ROTATE_CHUNK)));
        writeSync(out, "\n");
      }
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Where each non-empty line of the file starts and ends (its newline excluded), in order. */
function lineSpans(fd: number): [number, number][] {
  const spans: [number, number][] = [];
  const buf = Buffer.allocUnsafe(ROTATE_CHUNK);
  let lineStart = 0;
  let pos = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) {
    const chunk = buf.subarray(0, n);
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
      if (pos + i > lineStart) spans.push([lineStart, pos + i]);
      lineStart = pos + i + 1;
    }
  }
  // a last line without its newline (torn) is a line too: the parse decides
  if (pos > lineStart) spans.push([lineStart, pos]);
  return spans;
}

/** The bytes of the file from `start` to `end` (fewer if it shrank meanwhile: that line is then no record). */
function readSpan(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(end - start);
  let got = 0;
  for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, start + got)) > 0;) got += n;
  return buf.subarray(0, got);
}
