// An in-process server on 127.0.0.1:0 in a temp directory, with its logs kept for assertions.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AccessLogEntry } from "../log/access-log";
import { type CacheServer, type CacheServerOptions, startCacheServer } from "../server/cache-server";

export interface TestServer {
  server: CacheServer;
  url: string;
  dir: string;
  accessLog: AccessLogEntry[];
  messages: string[];
  stop(): Promise<void>;
}

const dirs: string[] = [];

export function tempDir(prefix = "hb-cache-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function writeTokens(dir: string, tokens: unknown): string {
  const path = join(dir, "tokens.json");
  writeFileSync(path, JSON.stringify(tokens));
  return path;
}

export async function startTestServer(opts: Partial<CacheServerOptions> = {}): Promise<TestServer> {
  const dir = opts.dir ?? join(tempDir(), "cache");
  const accessLog: AccessLogEntry[] = [];
  const messages: string[] = [];
  const server = await startCacheServer({ dir, port: 0, ...opts, accessLog: (e) => accessLog.push(e), log: (m) => messages.push(m) });
  return { server, url: server.url, dir, accessLog, messages, stop: () => server.close() };
}

/** Every file under `dir`, relative, with its size: to show that a refused request left nothing behind. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else out.push(`${rel}${e.name} ${statSync(p).size}`);
    }
  };
  walk(dir, "");
  return out.sort();
}
