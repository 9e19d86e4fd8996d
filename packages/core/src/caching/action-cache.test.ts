import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CacheIncident } from "./local-cas";
import { openDatabase } from "../base/database";
import { type ActionResult, ActionCache } from "./action-cache";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-ac-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const result: ActionResult = {
  files: [{ path: "hb-out/p/o.txt", hash: "a".repeat(64), size: 3, executable: false }],
  dirs: [],
  exitCode: 0,
  stdout: "",
  stderr: "",
  executedAtMs: 1,
  durationMs: 2,
  sandbox: "default",
};

describe("ActionCache", () => {
  it("stores and returns results by key, and persists them", () => {
    const path = join(dir, "ac.db");
    let db = openDatabase(path);
    new ActionCache(db, []).put("k1", result);
    db.close();
    db = openDatabase(path);
    const ac = new ActionCache(db, []);
    expect(ac.get("k1")).toEqual(result);
    expect(ac.get("k2")).toBeUndefined();
    db.close();
  });

  it("treats an unreadable row as a miss, reports it and removes it", () => {
    const db = openDatabase(join(dir, "ac2.db"));
    const incidents: CacheIncident[] = [];
    const ac = new ActionCache(db, incidents);
    db.prepare("INSERT INTO action_cache (key, result, created_ms) VALUES (?, ?, 0)").run("bad", "{not json");
    db.prepare("INSERT INTO action_cache (key, result, created_ms) VALUES (?, ?, 0)").run(
      "wrong",
      JSON.stringify({ files: [{ path: 1 }] }),
    );
    expect(ac.get("bad")).toBeUndefined();
    expect(ac.get("wrong")).toBeUndefined();
    expect(incidents.map((i) => i.kind)).toEqual(["corrupt-action-result", "corrupt-action-result"]);
    expect(db.prepare("SELECT count(*) AS n FROM action_cache").get()).toEqual({ n: 0 });
    db.close();
  });
});
