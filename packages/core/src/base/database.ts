import type BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";

export type Database = BetterSqlite3.Database;
export type Statement = BetterSqlite3.Statement;

// Loaded on first use: the sandboxed analyzer shares this code and must not need the addon.
let Sqlite: typeof BetterSqlite3 | undefined;
export function sqlite(): typeof BetterSqlite3 {
  Sqlite ??= createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  return Sqlite;
}

const SCHEMA_VERSION = 6;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- path -> the digest it had when it had this (size, mtime, ctime, inode); see StatCache
CREATE TABLE IF NOT EXISTS stat_cache (
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL,
  ino INTEGER NOT NULL, hash TEXT NOT NULL, recorded_ms REAL NOT NULL) WITHOUT ROWID;
-- CAS blob -> the inode facts it had when hb last wrote or linked it; a blob whose facts changed is re-hashed.
-- used_ms: when a build last used it (the local cache's maxSize evicts the least recently used)
CREATE TABLE IF NOT EXISTS blobs (
  hash TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL,
  used_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_use ON blobs (used_ms);
CREATE TABLE IF NOT EXISTS action_cache (
  key TEXT PRIMARY KEY, result TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analysis_cache (
  request TEXT PRIMARY KEY, inputs TEXT NOT NULL, result TEXT NOT NULL) WITHOUT ROWID;
-- external inputs hb fetched: (url, pinned integrity) -> the CAS blob that matched it
CREATE TABLE IF NOT EXISTS fetched (
  url TEXT NOT NULL, integrity TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
  fetched_ms INTEGER NOT NULL, PRIMARY KEY (url, integrity)) WITHOUT ROWID;
-- how each executed action was run (command, env, inputs by digest, builder): for hb explain
CREATE TABLE IF NOT EXISTS action_info (key TEXT PRIMARY KEY, info TEXT NOT NULL) WITHOUT ROWID;
-- output content -> the actions that produced it
CREATE TABLE IF NOT EXISTS output_index (hash TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (hash, key, path)) WITHOUT ROWID;
-- provenance statements hb wrote, by subject
CREATE TABLE IF NOT EXISTS attestations (
  hash TEXT NOT NULL, file TEXT NOT NULL, builder_id TEXT NOT NULL, created_ms INTEGER NOT NULL,
  PRIMARY KEY (hash, file)) WITHOUT ROWID;
-- per request: the stats of everything the last clean build read and wrote (build/noop.ts)
CREATE TABLE IF NOT EXISTS noop_snapshot (key TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
-- what hb last put at each path under hb-out/, so a no-op build checks a stat, not a hash
CREATE TABLE IF NOT EXISTS materialized (
  path TEXT PRIMARY KEY, hash TEXT NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
  ctime_ms REAL NOT NULL) WITHOUT ROWID;
`;

/** Opens the output base's database (WAL), creating or upgrading its schema. */
export function openDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const Db = sqlite();
  const db = new Db(path);
  db.pragma("journal_mode = WAL");
  // WAL with NORMAL keeps the database consistent on a crash; a lost last transaction only
  // means a cache miss.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  // read through a memory map: a no-op build reads thousands of rows, one pread per page otherwise
  db.pragma("mmap_size = 268435456");
  const row = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").get();
  const version = row
    ? Number((db.prepare("SELECT value FROM meta WHERE key='schema'").get() as { value?: string } | undefined)?.value ?? 0)
    : 0;
  if (version !== SCHEMA_VERSION) {
    // Everything here is a cache: a schema change starts it afresh.
    db.exec(`DROP TABLE IF EXISTS stat_cache; DROP TABLE IF EXISTS blobs; DROP TABLE IF EXISTS action_cache;
             DROP TABLE IF EXISTS analysis_cache; DROP TABLE IF EXISTS materialized; DROP TABLE IF EXISTS meta;
             DROP TABLE IF EXISTS fetched; DROP TABLE IF EXISTS action_info; DROP TABLE IF EXISTS output_index;
             DROP TABLE IF EXISTS attestations; DROP TABLE IF EXISTS noop_snapshot;`);
    db.exec(SCHEMA);
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
  }
  return db;
}
