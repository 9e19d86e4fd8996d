import type { KeyedFile } from "../keying/action-key";
import type { CacheIncident } from "./local-cas";
import type { SandboxMode } from "../base/action-env";
import type { ActionResult, OutputFile } from "../base/action-result";

export type { ActionResult, OutputFile };
import type { Database, Statement } from "../base/database";

/** How an action was run, kept for `hb explain`: plain JSON beside its result. */
export interface ActionInfo {
  owner: string;
  mnemonic: string;
  kind: string;
  argv: string[];
  env: Record<string, string>;
  inputs: KeyedFile[];
  tools: KeyedFile[];
  toolchains: KeyedFile[];
  sandbox: SandboxMode;
  executedAtMs: number;
  durationMs: number;
  /** who ran it: this machine (`local:<host>`), or the key that signed a remote entry */
  builder: string;
}

/** Reads how the action of a key ran, as `ActionCache.describe` recorded it (undefined: never recorded here). */
export function actionInfoReader(db: Database): (key: string) => ActionInfo | undefined {
  const select = db.prepare("SELECT info FROM action_info WHERE key = ?");
  return (key) => {
    const row = select.get(key) as { info: string } | undefined;
    return row ? (JSON.parse(row.info) as ActionInfo) : undefined;
  };
}

function isActionResult(v: unknown): v is ActionResult {
  const r = v as ActionResult;
  return (
    typeof r === "object" &&
    r !== null &&
    Array.isArray(r.files) &&
    Array.isArray(r.dirs) &&
    r.files.every((f) => typeof f?.path === "string" && /^[0-9a-f]{64}$/.test(f.hash) && Number.isSafeInteger(f.size)) &&
    typeof r.exitCode === "number"
  );
}

/** The local action cache: action key -> ActionResult, in SQLite. */
export class ActionCache {
  private readonly select: Statement;
  private readonly insert: Statement;
  private readonly remove: Statement;
  private readonly putInfo: Statement;
  private readonly indexOutput: Statement;

  constructor(
    db: Database,
    private readonly incidents: CacheIncident[],
  ) {
    this.select = db.prepare("SELECT result FROM action_cache WHERE key = ?");
    this.insert = db.prepare("INSERT OR REPLACE INTO action_cache (key, result, created_ms) VALUES (?, ?, ?)");
    this.remove = db.prepare("DELETE FROM action_cache WHERE key = ?");
    this.putInfo = db.prepare("INSERT OR REPLACE INTO action_info (key, info) VALUES (?, ?)");
    this.indexOutput = db.prepare("INSERT OR IGNORE INTO output_index (hash, key, path) VALUES (?, ?, ?)");
  }

  get(key: string): ActionResult | undefined {
    const row = this.select.get(key) as { result: string } | undefined;
    if (!row) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.result);
    } catch {
      parsed = undefined;
    }
    if (!isActionResult(parsed)) {
      this.incidents.push({ kind: "corrupt-action-result", detail: `action cache entry ${key} is unreadable; removed` });
      this.remove.run(key);
      return undefined;
    }
    return parsed;
  }

  put(key: string, result: ActionResult): void {
    this.insert.run(key, JSON.stringify(result), Date.now());
  }

  /** Records how an action ran and what it produced, whether or not its result is cached. */
  describe(key: string, info: ActionInfo, files: readonly OutputFile[]): void {
    this.putInfo.run(key, JSON.stringify(info));
    for (const f of files) if (f.symlink === undefined) this.indexOutput.run(f.hash, key, f.path);
  }

  delete(key: string): void {
    this.remove.run(key);
  }
}
