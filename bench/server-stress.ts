// The cache server under the concurrency, timed for `npm run bench` (scenario "stress"):
// 32 downloads and 32 uploads of 64 MiB at once (fast, slow, cut off) with 1,000 idle keep-alive
// connections, peak RSS of the process; then 64 clients for 20 s (90% GETs, hits and misses, 10%
// PUTs of 100 B to 10 MiB), requests/s and p99. Prints one JSON object.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { peakRssBytes, spawnServer } from "../packages/cache-server/src/testing/cli";
import { GeneratedBlob, type Pace, download, idleConnections, runLoad, upload } from "../packages/cache-server/src/testing/stress";

const { values } = parseArgs({ options: { cli: { type: "string" }, dir: { type: "string" }, seconds: { type: "string" } } });
const cli = values.cli!;
const dir = values.dir!;
const MiB = 1 << 20;
const BLOB = 64 * MiB;

const paceOf = (i: number): Pace =>
  i % 4 === 1 ? { bytesPerSecond: BLOB / 4 } : i % 4 === 2 ? { abortAfter: Math.floor((BLOB * (i + 1)) / 34) } : {};

async function memory() {
  const server = await spawnServer(cli, ["--dir", join(dir, "memory"), "--access-log", "/dev/null"]);
  try {
    const served = [0, 1, 2, 3].map((seed) => new GeneratedBlob(seed, BLOB));
    for (const b of served) await upload(server.url, `/cas/${b.hash}`, b);
    const idle = await idleConnections(server.url, 1000);
    const started = Date.now();
    const uploads = Array.from({ length: 32 }, (_, i) => new GeneratedBlob(100 + i, BLOB));
    const results = await Promise.all([
      ...Array.from({ length: 32 }, (_, i) => download(server.url, `/cas/${served[i % 4]!.hash}`, paceOf(i))),
      ...uploads.map((b, i) => upload(server.url, `/cas/${b.hash}`, b, paceOf(i))),
    ]);
    const failed = results.filter((r, i) => !r.aborted && r.status !== 200 && paceOf(i % 32).abortAfter === undefined).length;
    idle.close();
    return { peakRssMiB: peakRssBytes(server.pid) / MiB, seconds: (Date.now() - started) / 1000, failed, idleAlive: idle.alive() };
  } finally {
    server.child.kill("SIGTERM");
    await server.exited;
  }
}

async function load() {
  const server = await spawnServer(cli, ["--dir", join(dir, "load"), "--access-log", "/dev/null"]);
  try {
    const r = await runLoad(server.url, {
      clients: 64,
      seconds: Number(values.seconds ?? 20),
      putShare: 0.1,
      missShare: 0.2,
      minSize: 100,
      maxSize: 10 * MiB,
      seedBlobs: 200,
    });
    return { ...r, errors: r.errors.length, firstErrors: r.errors.slice(0, 3), peakRssMiB: peakRssBytes(server.pid) / MiB };
  } finally {
    server.child.kill("SIGTERM");
    await server.exited;
  }
}

process.stdout.write(`${JSON.stringify({ memory: await memory(), load: await load() })}\n`);
