// `hb cache serve` killed with SIGKILL at random moments while uploads are under way, again and
// again on the same directory: after each restart every upload it acknowledged is served, and
// nothing is served that is not whole and what its name says.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serverProcesses } from "../testing/server-processes";
import { hbEntry } from "../testing/hb-entry";
import { get, put } from "../testing/http-client";
import { tempDir } from "../testing/server";
import { prng } from "../testing/stress";
import { figure, suiteSize } from "../testing/suite-size";

const KILLS = suiteSize(10, 100);
const UPLOADS_AT_ONCE = 12;

const { serve } = serverProcesses();

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Every file under blobs/, as [kind, hash, path]. */
function storedFiles(dir: string): [string, string, string][] {
  const out: [string, string, string][] = [];
  const blobs = join(dir, "blobs");
  for (const ns of readdirSync(blobs))
    for (const kind of readdirSync(join(blobs, ns)))
      for (const prefix of readdirSync(join(blobs, ns, kind)))
        for (const hash of readdirSync(join(blobs, ns, kind, prefix))) out.push([kind, hash, join(blobs, ns, kind, prefix, hash)]);
  return out;
}

describe("hb cache serve killed during uploads", () => {
  it(`after each of ${KILLS} SIGKILLs, serves every acknowledged upload and only whole, verified blobs`, async () => {
    const dir = join(tempDir(), "cache");
    const rand = prng(7);
    const acknowledged = new Map<string, Buffer>();
    const acEntries = new Map<string, Buffer>();
    const attempted = new Map<string, Buffer>();
    const lastRound: string[] = [];
    let killedMidUpload = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const server = await serve(["--dir", dir, "--access-log", "/dev/null"]);
      // what the last run acknowledged, just before it was killed, is there byte for byte (all of
      // it is checked after the last kill)
      for (const hash of lastRound) {
        const r = await get(server.url, `/cas/${hash}`);
        expect(r.status, `blob ${hash} after kill ${kill}`).toBe(200);
        expect(r.body.equals(acknowledged.get(hash)!)).toBe(true);
        const key = sha256(Buffer.from(`action ${hash}`));
        if (acEntries.has(key)) expect((await get(server.url, `/ac/${key}`)).body.equals(acEntries.get(key)!)).toBe(true);
      }
      lastRound.length = 0;

      // uploaders one after another until the server is killed under them
      let alive = true;
      let inFlight = 0;
      const uploader = async () => {
        while (alive) {
          const blob = randomBytes(Math.floor(2 ** (10 + rand() * 13)));
          const hash = sha256(blob);
          attempted.set(hash, blob);
          inFlight++;
          try {
            if ((await put(server.url, `/cas/${hash}`, blob)).status !== 200) return;
            acknowledged.set(hash, blob);
            lastRound.push(hash);
            const key = sha256(Buffer.from(`action ${hash}`));
            const entry = hbEntry(key, "", [{ path: "out", hash, size: blob.length }]);
            if ((await put(server.url, `/ac/${key}`, entry)).status === 200) acEntries.set(key, entry);
          } catch {
            return;
          } finally {
            inFlight--;
          }
        }
      };
      const uploads = Array.from({ length: UPLOADS_AT_ONCE }, uploader);
      await new Promise((r) => setTimeout(r, 50 + rand() * 500));
      if (inFlight > 0) killedMidUpload++;
      server.child.kill("SIGKILL");
      await server.exited;
      alive = false;
      await Promise.all(uploads);

      // on disk: every stored CAS file is what its name says (tmp/ may hold torn uploads: the next start removes them)
      for (const [kind, hash, path] of storedFiles(dir)) {
        if (kind === "cas") expect(sha256(readFileSync(path)), path).toBe(hash);
      }
    }
    // the last start: whatever was attempted is either served whole or a miss
    const last = await serve(["--dir", dir, "--access-log", "/dev/null"]);
    let served = 0;
    for (const [hash, bytes] of attempted) {
      const r = await get(last.url, `/cas/${hash}`);
      if (acknowledged.has(hash)) expect(r.status).toBe(200);
      const key = sha256(Buffer.from(`action ${hash}`));
      if (acEntries.has(key)) expect((await get(last.url, `/ac/${key}`)).body.equals(acEntries.get(key)!)).toBe(true);
      if (r.status === 200) {
        expect(r.body.equals(bytes)).toBe(true);
        served++;
      } else expect(r.status).toBe(404);
    }
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    last.child.kill("SIGTERM");
    expect((await last.exited).code).toBe(0);
    figure(
      "server-crash",
      `${KILLS} SIGKILLs (${killedMidUpload} with uploads in flight), ${attempted.size} uploads tried, ${acknowledged.size} acknowledged, all ${served} stored blobs whole; 0 lost, 0 torn`,
    );
    expect(killedMidUpload).toBe(KILLS);
  }, 600_000);
});
