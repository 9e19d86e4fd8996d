// The server as a real process (`hb cache serve`, bundled from these sources): killed, signalled
// and measured the way an operator's machine would.
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { type ClientRequest, type IncomingMessage, request as httpRequest } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { REPO, peakRssBytes } from "../testing/cli";
import { generateKeyPair } from "@hb/core/engine";
import { hbPayload, signedHbEntry } from "../testing/hb-entry";
import { get, put } from "../testing/http-client";
import { tempDir, writeTokens } from "../testing/server";
import { serverProcesses } from "../testing/server-processes";

const { serve, cli } = serverProcesses();

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A PUT whose body the test writes to `req` by hand, to stop it halfway. */
function openUpload(url: string, path: string, length: number): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const u = new URL(url);
  const req = httpRequest({ host: u.hostname, port: u.port, method: "PUT", path, headers: { "Content-Length": length }, agent: false });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res));
    });
    req.on("error", reject);
  });
  return { req, response };
}

const tmpFiles = (dir: string) => readdirSync(join(dir, "tmp")).map((f) => statSync(join(dir, "tmp", f)).size);

describe("hb cache serve as a process", () => {
  it("killed with SIGKILL mid-upload: after a restart the blob is a miss, nothing torn is served, tmp/ is cleaned", async () => {
    const dir = join(tempDir(), "cache");
    const server = await serve(["--dir", dir]);
    const kept = randomBytes(1000);
    expect((await put(server.url, `/cas/${sha256(kept)}`, kept)).status).toBe(200);

    const blob = randomBytes(8 << 20);
    const hash = sha256(blob);
    const upload = openUpload(server.url, `/cas/${hash}`, blob.length);
    upload.response.catch(() => {});
    upload.req.write(blob.subarray(0, 4 << 20));
    await until("half the upload on disk", () => tmpFiles(dir).some((n) => n > 0));
    server.child.kill("SIGKILL");
    expect((await server.exited).signal).toBe("SIGKILL");
    upload.req.destroy();
    expect(tmpFiles(dir).length).toBe(1);

    const again = await serve(["--dir", dir]);
    expect(tmpFiles(dir)).toEqual([]);
    expect((await get(again.url, `/cas/${hash}`)).status).toBe(404);
    expect(existsSync(join(dir, "blobs", "@", "cas", hash.slice(0, 2), hash))).toBe(false);
    const got = await get(again.url, `/cas/${sha256(kept)}`);
    expect(got.body).toEqual(kept);
    again.child.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);
  });

  it("SIGTERM stops accepting, finishes the upload in flight, and exits 0", async () => {
    const dir = join(tempDir(), "cache");
    const server = await serve(["--dir", dir]);
    const blob = randomBytes(8 << 20);
    const hash = sha256(blob);
    const upload = openUpload(server.url, `/cas/${hash}`, blob.length);
    upload.req.write(blob.subarray(0, 4 << 20));
    await until("half the upload on disk", () => tmpFiles(dir).some((n) => n > 0));
    server.child.kill("SIGTERM");
    await server.waitFor(/shutting down: finishing 1 uploads in flight/);
    await expect(get(server.url, "/status")).rejects.toThrow(/ECONNREFUSED/);
    upload.req.end(blob.subarray(4 << 20));
    expect((await upload.response).statusCode).toBe(200);
    expect((await server.exited).code).toBe(0);
    expect(server.stderr()).toMatch(/hb cache: stopped/);

    const again = await serve(["--dir", dir]);
    expect(sha256((await get(again.url, `/cas/${hash}`)).body)).toBe(hash);
    again.child.kill("SIGTERM");
    await again.exited;
  });

  it("SIGHUP re-reads the tokens file: a new token works, a removed one gets 401, a bad file keeps the old tokens", async () => {
    const dir = tempDir();
    const A = "token-a-0123456789abcdef";
    const B = "token-b-0123456789abcdef";
    const grant = (token: string) => ({ token, scopes: ["read", "write"], instances: ["*"] });
    const tokens = writeTokens(dir, { tokens: [grant(A)] });
    const server = await serve(["--dir", join(dir, "cache"), "--tokens", tokens]);
    const probe = `/cas/${"9".repeat(64)}`;
    expect((await get(server.url, probe, A)).status).toBe(404);
    expect((await get(server.url, probe, B)).status).toBe(401);

    writeTokens(dir, { tokens: [grant(B)] });
    server.child.kill("SIGHUP");
    await server.waitFor(/reloaded .*tokens\.json: 1 tokens/);
    expect((await get(server.url, probe, B)).status).toBe(404);
    expect((await get(server.url, probe, A)).status).toBe(401);

    writeFileSync(tokens, `{"tokens": [{"token": "${A}"`);
    server.child.kill("SIGHUP");
    await server.waitFor(/kept the previous tokens: .*not valid JSON/);
    expect((await get(server.url, probe, B)).status).toBe(404);
    expect((await get(server.url, probe, A)).status).toBe(401);

    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
    expect(server.stderr()).not.toContain(A);
    expect(server.stderr()).not.toContain(B);
  });

  it("SIGHUP re-reads the trusted keys file too: an instance that starts trusting a key refuses entries it did not sign", async () => {
    const dir = tempDir();
    const ci = generateKeyPair();
    writeFileSync(join(dir, "ci.pem"), ci.publicKey.export({ type: "spki", format: "pem" }));
    const trusted = join(dir, "trusted.json");
    writeFileSync(trusted, JSON.stringify({ main: ["ci.pem"] }));
    const server = await serve(["--dir", join(dir, "cache"), "--trusted-keys-file", trusted]);
    expect(server.stderr()).toMatch(/hb entries must be signed by the keys in .*trusted\.json \(1 instances, 1 keys\)/);
    const blob = Buffer.from("output");
    const d = { hash: sha256(blob), size: blob.length };
    const forged = (k: string) => signedHbEntry(hbPayload(k, "pr", [{ path: "o", ...d }]), generateKeyPair().privateKey);
    expect((await put(server.url, `/pr/cas/${d.hash}`, blob)).status).toBe(200);
    expect((await put(server.url, `/pr/ac/${"1".repeat(64)}`, forged("1".repeat(64)))).status).toBe(200);

    writeFileSync(trusted, JSON.stringify({ "*": ["ci.pem"] }));
    server.child.kill("SIGHUP");
    await server.waitFor(/reloaded .*trusted\.json: 1 instances, 1 keys/);
    expect(server.stderr()).not.toMatch(/no --tokens file to reload/);
    expect((await put(server.url, `/pr/ac/${"2".repeat(64)}`, forged("2".repeat(64)))).status).toBe(403);

    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("streams a 512 MiB upload and download with the server's peak RSS under 150 MiB", async () => {
    const dir = join(tempDir(), "cache");
    const server = await serve(["--dir", dir, "--access-log", join(dir, "..", "access.log")]);
    const seed = randomBytes(1 << 20);
    const CHUNKS = 512;
    // generated on the fly, twice (to hash, then to send): never held in the test's memory
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < CHUNKS; i++) {
        const c = Buffer.from(seed);
        c.writeUInt32LE(i, 0);
        yield c;
      }
    }
    const h = createHash("sha256");
    for (const c of chunks()) h.update(c);
    const hash = h.digest("hex");
    const size = CHUNKS << 20;

    const upload = openUpload(server.url, `/cas/${hash}`, size);
    await pipeline(Readable.from(chunks()), upload.req);
    expect((await upload.response).statusCode).toBe(200);

    const down = createHash("sha256");
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const u = new URL(server.url);
      httpRequest({ host: u.hostname, port: u.port, path: `/cas/${hash}`, agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.on("data", (c: Buffer) => {
          down.update(c);
          received += c.length;
        });
        res.on("end", resolve);
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
    expect(received).toBe(size);
    expect(down.digest("hex")).toBe(hash);

    const peak = peakRssBytes(server.pid);
    expect(peak).toBeLessThan(150 * 2 ** 20);
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  }, 180_000);

  it("refuses to start off loopback without a tokens file (exit 2, no stack trace)", async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [cli(), "cache", "serve", "--dir", join(tempDir(), "c"), "--host", "0.0.0.0", "--port", "0"],
        {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_PATH: join(REPO, "node_modules") },
        },
        (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ERROR: refusing to serve on 0\.0\.0\.0 without a tokens file/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses an access log it cannot append to before it serves (exit 2, no stack trace)", async () => {
    const dir = join(tempDir(), "c");
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [cli(), "cache", "serve", "--dir", dir, "--port", "0", "--access-log", join(tempDir(), "missing/access.log")],
        {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_PATH: join(REPO, "node_modules") },
        },
        (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ERROR: cannot append the access log to .*missing\/access\.log: ENOENT/);
    expect(result.stderr).not.toContain("serving");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
