import { join } from "node:path";
import { ActionCache } from "../action-cache/action-cache";
import { LocalCas } from "../cas/local-cas";
import { type Database, openDatabase } from "./database";
import { StatCache } from "./stat-cache";

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

  close(): void {
    this.stats.flush();
    this.db.close();
  }
}
