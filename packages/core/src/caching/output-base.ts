import { join } from "node:path";
import { ActionCache } from "./action-cache";
import { LocalCas } from "./local-cas";
import { type Database, openDatabase } from "../base/database";
import { StatCache } from "../keying/stat-cache";

/**
 * What hb keeps in an output base, and all `hb clean --expunge` removes: an output base named by
 * mistake (a package, $HOME) keeps whatever else is there.
 */
export function isOutputBaseEntry(name: string): boolean {
  return /^(hb|lock)\.db(-wal|-shm|-journal)?$|^(lock\.pid|cas|sandbox|sandbox-etc|fetch-log\.jsonl|records\.jsonl)$/.test(name);
}

/** The local state under an output base: database, stat cache, CAS, action cache. */
export class OutputBase {
  readonly db: Database;
  readonly stats: StatCache;
  readonly cas: LocalCas;
  readonly ac: ActionCache;

  constructor(readonly dir: string) {
    this.db = openDatabase(join(dir, "hb.db"));
    this.stats = new StatCache(this.db);
    this.cas = new LocalCas(join(dir, "cas"), this.db);
    this.ac = new ActionCache(this.db, this.cas.incidents);
  }

  get sandboxDir(): string {
    return join(this.dir, "sandbox");
  }

  /**
   * Groups the many small writes of a build (cache rows, blob facts, action records) into one
   * transaction, committed by `commitWrites`: one commit per batch instead of one per row. A crash
   * loses at most the open batch, which only means cache misses.
   */
  beginWrites(): void {
    if (!this.db.inTransaction) this.db.exec("BEGIN");
  }

  commitWrites(): void {
    if (this.db.inTransaction) this.db.exec("COMMIT");
  }

  /** Batches writes for a build, committing every 250 ms; the function returned commits and stops. */
  batchWrites(): () => void {
    this.beginWrites();
    const committer = setInterval(() => {
      this.commitWrites();
      this.beginWrites();
    }, 250);
    return () => {
      clearInterval(committer);
      this.commitWrites();
    };
  }

  close(): void {
    this.stats.flush();
    this.commitWrites();
    this.db.close();
  }
}
