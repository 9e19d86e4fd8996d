import type { ExecPath } from "../analysis/graph";
import type { CacheIncident } from "../cas/local-cas";
import type { SandboxMode } from "../workspace/config";
import type { Database, Statement } from "../store/database";

export interface OutputFile {
  path: ExecPath;
  /** sha256 of the content; for a symlink, of "symlink\0<target>" */
  hash: string;
  size: number;
  executable: boolean;
  /** a relative symlink inside a tree output: its target */
  symlink?: string;
}

/** What an action produced: the AC's value. Plain JSON. */
export interface ActionResult {
  /** every output file, including the files inside output directories, sorted by path */
  files: OutputFile[];
  /** declared output directories (tree artifacts), sorted */
  dirs: ExecPath[];
  exitCode: number;
  stdout: string;
  stderr: string;
  /** when and how it was produced: for `hb explain` and provenance */
  executedAtMs: number;
  durationMs: number;
  sandbox: SandboxMode;
}

function isActionResult(v: unknown): v is ActionResult {
  const r = v as ActionResult;
  return (
    typeof r === "object" && r !== null && Array.isArray(r.files) && Array.isArray(r.dirs) &&
    r.files.every((f) => typeof f?.path === "string" && /^[0-9a-f]{64}$/.test(f.hash) && Number.isSafeInteger(f.size)) &&
    typeof r.exitCode === "number"
  );
}

/** The local action cache: action key -> ActionResult, in SQLite. */
export class ActionCache {
  private readonly select: Statement;
  private readonly insert: Statement;
  private readonly remove: Statement;

  constructor(
    db: Database,
    private readonly incidents: CacheIncident[],
  ) {
    this.select = db.prepare("SELECT result FROM action_cache WHERE key = ?");
    this.insert = db.prepare("INSERT OR REPLACE INTO action_cache (key, result, created_ms) VALUES (?, ?, ?)");
    this.remove = db.prepare("DELETE FROM action_cache WHERE key = ?");
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

  delete(key: string): void {
    this.remove.run(key);
  }
}
