// The remote cache server's figures: `hb cache serve` in its own process, the load from this
// one (a keep-alive Node client; the two share the machine's 2 cores, as the issue says).
// Floors in the same run: a bare node:http server answering every GET with the same 4 KiB from
// memory; `dd conv=fsync` writing the same 1 GiB on the same disk, and `dd` reading the blob
// file the server serves (both reads start with the file dropped from the page cache).
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { sync, timeAsync } from "./measure.mjs";
import { bundleAgainstCore } from "./scenarios.mjs";

const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const MiB = 1 << 20;

/** Samples a process's resident memory (VmRSS) every 20 ms; `stop()` gives the largest seen. */
function rssSampler(pid) {
  let max = 0;
  const read = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) max = Math.max(max, Number(m[1]));
    } catch {
      // the process is gone: keep what was seen
    }
  };
  read();
  const timer = setInterval(read, 20);
  return {
    stop() {
      clearInterval(timer);
      read();
      return max / 1024;
    },
  };
}

/** Starts `argv` and resolves with the child and the first URL matching `listening` it prints on stderr. */
export function startProcess(argv, what, listening = /http:\/\/127\.0\.0\.1:\d+/) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
      const m = listening.exec(err);
      if (m) {
        child.stderr.removeAllListeners("data");
        child.stderr.resume();
        resolve({ child, url: m[0] });
      }
    });
    child.on("exit", (code) => reject(new Error(`${what} exited ${code} before listening: ${err.trim()}`)));
  });
}

export function stopProcess(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** One request; resolves with the status and the number of body bytes (read and thrown away). */
function request(agent, url, method, { body, length } = {}) {
  return new Promise((resolve, reject) => {
    const headers = length === undefined ? {} : { "content-length": String(length) };
    const req = http.request(url, { method, agent, headers }, (res) => {
      let bytes = 0;
      res.on("data", (d) => (bytes += d.length));
      res.on("end", () => resolve({ status: res.statusCode, bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** GETs for `ms` milliseconds from `connections` keep-alive connections; requests per second. */
async function getLoad(url, paths, { connections, ms }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let done = 0;
  let bad = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = c; performance.now() < end; i += connections) {
        const r = await request(agent, url + paths[i % paths.length], "GET");
        if (r.status === 200 && r.bytes === 4096) done++;
        else bad++;
      }
    }),
  );
  const perSecond = (done / (performance.now() - t0)) * 1000;
  agent.destroy();
  if (bad) throw new Error(`${bad} GETs did not answer 200 with 4096 bytes`);
  return perSecond;
}

const BARE_SERVER = `
const http = require("node:http");
const blob = Buffer.alloc(4096, 7);
const s = http.createServer((req, res) => { res.writeHead(200, { "content-length": "4096" }); res.end(blob); });
s.keepAliveTimeout = 60000;
s.listen(0, "127.0.0.1", () => process.stderr.write("bare on http://127.0.0.1:" + s.address().port + "\\n"));
process.on("SIGTERM", () => process.exit(0));
`;

/** 1 GiB of random bytes in `file` (random so that no layer can compress it), and its sha256. */
function bigBlob(file, size) {
  const hash = createHash("sha256");
  const fd = openSync(file, "w");
  try {
    for (let left = size; left > 0; left -= MiB) {
      const chunk = randomBytes(Math.min(MiB, left));
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** MB/s of a `dd` with `args`, from its own summary line (the time dd measured itself). */
function dd(args) {
  sync();
  const r = spawnSync("dd", [...args, "bs=1M"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dd ${args.join(" ")} failed: ${r.stderr}`);
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(r.stderr);
  if (!m) throw new Error(`cannot read dd's summary: ${r.stderr}`);
  return Number(m[1]) / 1e6 / Number(m[2]);
}

/** Asks the kernel to drop `file` from the page cache, so a read comes from the disk. */
function dropFromPageCache(file) {
  sync();
  const r = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot drop ${file} from the page cache: ${r.stderr}`);
}

const timedMBps = async (bytes, fn) => bytes / 1e3 / (await timeAsync(fn));

/**
 * GET rate (4 KiB blobs, 32 connections) against a bare node:http server, and 1 GiB PUT and GET
 * against dd; the server's peak RSS throughout. `ctx.runs` rounds each, alternating.
 */
export async function cacheServer(ctx) {
  const dir = join(ctx.work, "cache-server");
  rmSync(dir, { recursive: true, force: true });
  const serve = (sub) => [
    ...ctx.hb,
    "cache",
    "serve",
    "--dir",
    join(dir, sub),
    "--port",
    "0",
    "--access-log",
    "/dev/null",
    "--max-size",
    "8GiB",
  ];
  const connections = 32;
  const res = { connections, getRate: { hb: [], bare: [] }, put: { hb: [], dd: [] }, get: { hb: [], dd: [] }, rssMiB: 0 };

  log(`cache server: 4 KiB GETs over ${connections} connections, ${ctx.runs} rounds of 3 s, hb and a bare node:http server alternating`);
  const small = await startProcess(serve("small"), "hb cache serve");
  const rss = rssSampler(small.child.pid);
  const bare = await startProcess([process.execPath, "-e", BARE_SERVER], "bare server");
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const paths = [];
    for (let i = 0; i < 2000; i++) {
      const blob = randomBytes(4096);
      const path = `/cas/${createHash("sha256").update(blob).digest("hex")}`;
      const r = await request(agent, small.url + path, "PUT", { body: blob, length: blob.length });
      if (r.status !== 200) throw new Error(`PUT of a 4 KiB blob answered ${r.status}`);
      paths.push(path);
    }
    agent.destroy();
    for (let round = -1; round < ctx.runs; round++) {
      const hb = await getLoad(small.url, paths, { connections, ms: 3000 });
      const floor = await getLoad(bare.url, paths, { connections, ms: 3000 });
      if (round >= 0) (res.getRate.hb.push(hb), res.getRate.bare.push(floor));
    }
  } finally {
    res.rssMiB = Math.max(res.rssMiB, rss.stop());
    await stopProcess(small.child);
    await stopProcess(bare.child);
  }

  const size = 1024 * MiB;
  const source = join(dir, "blob-1g");
  log(`cache server: 1 GiB PUT and GET against dd conv=fsync, ${Math.max(2, ctx.runs + (ctx.runs % 2))} rounds`);
  const digest = bigBlob(source, size);
  try {
    const ddRound = () => {
      const ddOut = join(dir, "dd-out");
      res.put.dd.push(dd([`if=${source}`, `of=${ddOut}`, "conv=fsync"]));
      rmSync(ddOut, { force: true });
    };
    const hbRound = async (round) => {
      // a fresh server each round: the CAS is write-once, a second PUT of the same blob stores nothing
      const sub = `big-${round}`;
      const big = await startProcess(serve(sub), "hb cache serve");
      const bigRss = rssSampler(big.child.pid);
      try {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const url = `${big.url}/cas/${digest}`;
        sync();
        res.put.hb.push(
          await timedMBps(size, async () => {
            const r = await request(agent, url, "PUT", {
              body: createReadStream(source, { highWaterMark: MiB }),
              length: statSync(source).size,
            });
            if (r.status !== 200) throw new Error(`1 GiB PUT answered ${r.status}`);
          }),
        );
        // dd reads the very file the server serves, each read from a dropped page cache; the
        // first read of a file just written is the slower one here (the host is still writing
        // it back), so the two take turns going first
        const blobFile = join(dir, sub, "blobs/@/cas", digest.slice(0, 2), digest);
        const get = async () => {
          dropFromPageCache(blobFile);
          res.get.hb.push(
            await timedMBps(size, async () => {
              const r = await request(agent, url, "GET");
              if (r.status !== 200 || r.bytes !== size) throw new Error(`1 GiB GET answered ${r.status} with ${r.bytes} bytes`);
            }),
          );
        };
        const ddRead = () => {
          dropFromPageCache(blobFile);
          res.get.dd.push(dd([`if=${blobFile}`, "of=/dev/null"]));
        };
        if (round % 2 === 0) {
          await get();
          ddRead();
        } else {
          ddRead();
          await get();
        }
        agent.destroy();
      } finally {
        res.rssMiB = Math.max(res.rssMiB, bigRss.stop());
        await stopProcess(big.child);
        rmSync(join(dir, sub), { recursive: true, force: true });
      }
    };
    // The VM's disk is cached by its host, which is still writing back one side's gigabyte while
    // the other side runs: each side starts after a pause for that write-back, and the two take
    // turns going first, an even number of rounds.
    const quiet = () => {
      sync();
      return new Promise((resolve) => setTimeout(resolve, 2000));
    };
    const rounds = Math.max(2, ctx.runs + (ctx.runs % 2));
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? ["dd", "hb"] : ["hb", "dd"]) {
        await quiet();
        if (side === "dd") ddRound();
        else await hbRound(round);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

/**
 * The server under the concurrency the fault suites test (bench/server-stress.ts, bundled, in its
 * own node): peak RSS with 32 + 32 transfers of 64 MiB and 1,000 idle connections, and a 20 s
 * load of 64 clients (requests/s, p99, errors).
 */
export async function serverStress(ctx) {
  log("cache server stress: 32 downloads + 32 uploads of 64 MiB with 1,000 idle connections, then 64 clients for 20 s");
  const bundle = await bundleAgainstCore(ctx, "server-stress");
  const dir = join(ctx.work, "server-stress");
  rmSync(dir, { recursive: true, force: true });
  const cli = ctx.hb[1].replace(/bin\/hb\.js$/, "dist/hb.mjs");
  const r = spawnSync(process.execPath, [bundle, "--cli", cli, "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 << 20,
    env: { ...process.env, NODE_PATH: join(ctx.repoRoot, "node_modules") },
  });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) {
    const msg = `server-stress exited ${r.status}: ${String(r.stderr).trim().split("\n").slice(-5).join(" | ")}`;
    log(msg);
    ctx.failures.push(msg);
    return undefined;
  }
  return JSON.parse(String(r.stdout));
}
