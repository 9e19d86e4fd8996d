import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "../base/errors";
import { type Database, sqlite } from "../base/database";
import { makeWritableDir } from "../base/writable-dir";

export interface OutputBaseLock {
  release(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One hb at a time owns an output base. The lock is an exclusive SQLite transaction on
 * `lock.db`: an fcntl lock the kernel drops when the holder dies, so a crash never leaves a
 * stale lock behind. A second hb waits, and says so once.
 */
export async function lockOutputBase(outputBase: string, onWait: (message: string) => void, signal?: AbortSignal): Promise<OutputBaseLock> {
  makeWritableDir(
    outputBase,
    (why) =>
      new HbError("USAGE", `cannot keep hb's state in ${outputBase}: ${why}`, {
        hint: "give --output-base (or HB_OUTPUT_BASE) a writable directory; it is created if missing",
      }),
  );
  const Db = sqlite();
  const db: Database = new Db(join(outputBase, "lock.db"));
  db.pragma("busy_timeout = 0");
  const pidFile = join(outputBase, "lock.pid");
  let told = false;
  for (;;) {
    try {
      db.exec("BEGIN EXCLUSIVE");
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== "SQLITE_BUSY") {
        db.close();
        throw e;
      }
      if (!told) {
        let holder = "another hb";
        try {
          holder = `another hb (pid ${readFileSync(pidFile, "utf8").trim()})`;
        } catch {
          // the holder has not written its pid yet
        }
        onWait(`${holder} is using ${outputBase}; waiting for it to finish...`);
        told = true;
      }
      if (signal?.aborted) {
        db.close();
        throw signal.reason;
      }
      await sleep(100);
    }
  }
  writeFileSync(pidFile, `${process.pid}\n`);
  return {
    release() {
      try {
        db.exec("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}
