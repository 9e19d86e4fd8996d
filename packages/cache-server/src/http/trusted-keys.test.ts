// --trusted-keys-file: an instance with trusted keys stores only hb entries a client trusting
// them would use, so a forged entry cannot squat a key; an admin token may delete an entry.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SigningKeyPair, generateKeyPair } from "@hb/core/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTrustedKeysFile, parseTrustedKeys } from "../auth/trusted-keys";
import { hbEntry, hbPayload, signedHbEntry } from "../testing/hb-entry";
import { get, put, request } from "../testing/http-client";
import { digestOf, encodeActionResult } from "../testing/protobuf";
import { type TestServer, removeTempDirs, startTestServer, tempDir, writeTokens } from "../testing/server";

const CI = "ci-0123456789abcdef-write";
const ADMIN = "admin-0123456789abcdef-ops";
const OPS_RO = "ops-0123456789abcdef-read";

let s: TestServer;
let dir: string;
let ci: SigningKeyPair;
let attacker: SigningKeyPair;
let release: SigningKeyPair;

function writePublicKey(pair: SigningKeyPair, name: string): void {
  mkdirSync(join(dir, "keys"), { recursive: true });
  writeFileSync(join(dir, "keys", name), pair.publicKey.export({ type: "spki", format: "pem" }));
}

function writeTrusted(json: unknown): string {
  const path = join(dir, "trusted.json");
  writeFileSync(path, typeof json === "string" ? json : JSON.stringify(json));
  return path;
}

beforeAll(async () => {
  dir = tempDir();
  ci = generateKeyPair();
  attacker = generateKeyPair();
  release = generateKeyPair();
  writePublicKey(ci, "ci.pem");
  writePublicKey(release, "release.pem");
  const tokensFile = writeTokens(dir, {
    anonymousRead: true,
    tokens: [
      { name: "ci", token: CI, scopes: ["read", "write"], instances: ["*"] },
      { name: "oncall", token: ADMIN, scopes: ["read", "admin"], instances: ["main", "late"] },
      { name: "ops-ro", token: OPS_RO, scopes: ["read"], instances: ["*"] },
    ],
  });
  // "main" trusts CI's key; every instance trusts the release key; "bazel" has none of its own
  const trustedKeysFile = writeTrusted({ main: ["keys/ci.pem"], "*": ["keys/release.pem"] });
  s = await startTestServer({ tokensFile, trustedKeysFile });
});
afterAll(async () => {
  await s.stop();
  removeTempDirs();
});

const blob = Buffer.from("an output the entries name");
const d = digestOf(blob);
const key = (n: number) => n.toString(16).padStart(64, "0");

async function withBlob(instance: string): Promise<void> {
  expect((await put(s.url, `/${instance}/cas/${d.hash}`, blob, CI)).status).toBe(200);
}

const entry = (k: string, instance: string, signer: SigningKeyPair, payloadType?: string) =>
  signedHbEntry(hbPayload(k, instance, [{ path: "hb-out/x", ...d }]), signer.privateKey, payloadType);

function refusedUploads(reason: string): number {
  const m = new RegExp(`^hb_cache_refused_uploads_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(s.server.metrics());
  return Number(m![1]);
}

describe("an instance with trusted keys", () => {
  it("stores an entry signed by a trusted key, its own or every instance's", async () => {
    await withBlob("main");
    expect((await put(s.url, `/main/ac/${key(1)}`, entry(key(1), "main", ci), CI)).status).toBe(200);
    expect((await put(s.url, `/main/ac/${key(2)}`, entry(key(2), "main", release), CI)).status).toBe(200);
    expect((await get(s.url, `/main/ac/${key(1)}`)).body).toEqual(entry(key(1), "main", ci));
  });

  it("refuses with 403, by reason, what no client would trust: another key, a random signature, another payload type, Bazel's unsigned entry", async () => {
    await withBlob("main");
    const before = { untrusted: refusedUploads("untrusted_signature"), unsigned: refusedUploads("unsigned_entry") };
    const cases: [Buffer, string, RegExp][] = [
      [entry(key(10), "main", attacker), "untrusted_signature", /signed by key [0-9a-f]{16}, which is not trusted/],
      [
        hbEntry(key(10), "main", [{ path: "hb-out/x", ...d }]),
        "untrusted_signature",
        /the entry.s signature: the envelope has no string .payloadType./,
      ],
      [entry(key(10), "main", ci, "application/vnd.in-toto+json"), "untrusted_signature", /not as an hb AC entry/],
      [encodeActionResult({ files: [{ path: "bazel-out/x", digest: d }] }), "unsigned_entry", /accepts only hb entries signed/],
    ];
    for (const [bytes, reason, message] of cases) {
      const res = await put(s.url, `/main/ac/${key(10)}`, bytes, CI);
      expect(res.status, res.body.toString()).toBe(403);
      expect(res.headers["x-hb-refusal"]).toBe(reason);
      expect(res.body.toString()).toMatch(message);
    }
    expect((await get(s.url, `/main/ac/${key(10)}`)).status).toBe(404);
    expect(refusedUploads("untrusted_signature")).toBe(before.untrusted + 3);
    expect(refusedUploads("unsigned_entry")).toBe(before.unsigned + 1);
    const line = s.accessLog.findLast((e) => e.method === "PUT" && e.path === `/main/ac/${key(10)}`);
    expect(line).toMatchObject({ status: 403, reason: "unsigned_entry", tokenName: "ci" });
    // the key is still free for the genuine entry
    expect((await put(s.url, `/main/ac/${key(10)}`, entry(key(10), "main", ci), CI)).status).toBe(200);
  });

  it("checks the structure first: a malformed entry is still 400", async () => {
    const res = await put(s.url, `/main/ac/${key(11)}`, "{not json", CI);
    expect(res.status).toBe(400);
    expect(res.headers["x-hb-refusal"]).toBe("bad_ac_entry");
  });

  it("trusts only the keys for '*' on other instances, where Bazel's unsigned entries are refused too", async () => {
    await withBlob("other");
    expect((await put(s.url, `/other/ac/${key(20)}`, entry(key(20), "other", ci), CI)).status).toBe(403);
    expect((await put(s.url, `/other/ac/${key(20)}`, entry(key(20), "other", release), CI)).status).toBe(200);
  });
});

describe("an instance without trusted keys", () => {
  it("keeps taking Bazel's unsigned entries and hb entries as before", async () => {
    const plain = await startTestServer({ trustedKeysFile: writeTrusted({ main: ["keys/ci.pem"] }) });
    try {
      expect((await put(plain.url, `/bazel/cas/${d.hash}`, blob)).status).toBe(200);
      const bazel = encodeActionResult({ files: [{ path: "bazel-out/x", digest: d }] });
      expect((await put(plain.url, `/bazel/ac/${key(30)}`, bazel)).status).toBe(200);
      expect((await put(plain.url, `/bazel/ac/${key(31)}`, hbEntry(key(31), "bazel", [{ path: "o", ...d }]))).status).toBe(200);
    } finally {
      await plain.stop();
    }
  });
});

describe("reloading the trusted keys", () => {
  it("an entry stored before its instance trusted keys does not hold the key: a trusted one replaces it, and is then write-once", async () => {
    await withBlob("late");
    const trustedKeysFile = writeTrusted({ main: ["keys/ci.pem"] });
    const late = await startTestServer({ dir: join(tempDir(), "cache"), tokensFile: join(dir, "tokens.json"), trustedKeysFile });
    try {
      expect((await put(late.url, `/late/cas/${d.hash}`, blob, CI)).status).toBe(200);
      const forged = entry(key(40), "late", attacker);
      expect((await put(late.url, `/late/ac/${key(40)}`, forged, CI)).status).toBe(200);
      expect((await put(late.url, `/late/ac/${key(40)}`, entry(key(40), "late", ci), CI)).status).toBe(409);

      writeTrusted({ main: ["keys/ci.pem"], late: ["keys/ci.pem"] });
      expect(late.server.reloadTrustedKeys()).toBe(true);
      expect(late.messages.at(-1)).toMatch(/reloaded .*trusted\.json: 2 instances, 1 keys/);
      expect((await put(late.url, `/late/ac/${key(40)}`, entry(key(40), "late", ci), CI)).status).toBe(200);
      expect(late.messages.at(-1)).toMatch(new RegExp(`replaced AC entry late/${key(40)}: it was not signed by a trusted key`));
      expect((await get(late.url, `/late/ac/${key(40)}`)).body).toEqual(entry(key(40), "late", ci));
      // a trusted entry is write-once again: another trusted signer cannot replace it
      writeTrusted({ late: ["keys/ci.pem", "keys/release.pem"] });
      expect(late.server.reloadTrustedKeys()).toBe(true);
      expect((await put(late.url, `/late/ac/${key(40)}`, entry(key(40), "late", release), CI)).status).toBe(409);

      // a bad file keeps the keys there were
      writeTrusted({ late: ["keys/missing.pem"] });
      expect(late.server.reloadTrustedKeys()).toBe(false);
      expect(late.messages.at(-1)).toMatch(
        /WARNING: kept the previous trusted keys: .*trusted\.json: instance "late": cannot read public key/,
      );
      expect((await put(late.url, `/late/ac/${key(41)}`, entry(key(41), "late", attacker), CI)).status).toBe(403);
    } finally {
      await late.stop();
    }
  });
});

describe("DELETE of an AC entry", () => {
  it("is for an admin token on its instances only, logged with the token's name", async () => {
    await withBlob("main");
    const path = `/main/ac/${key(50)}`;
    expect((await put(s.url, path, entry(key(50), "main", ci), CI)).status).toBe(200);
    const del = (p: string, token?: string) => request(s.url, p, { method: "DELETE", token });
    expect((await del(path)).status).toBe(401);
    for (const token of [CI, OPS_RO]) {
      const res = await del(path, token);
      expect(res.status).toBe(403);
      expect(res.body.toString()).toMatch(/may not admin/);
    }
    expect((await del(`/other/ac/${key(50)}`, ADMIN)).status).toBe(403);
    // a CAS blob is never deleted: a blob is what its name says, whoever wrote it
    expect((await del(`/main/cas/${d.hash}`, CI)).status).toBe(405);
    expect((await get(s.url, path)).status).toBe(200);

    expect((await del(path, ADMIN)).status).toBe(200);
    expect((await get(s.url, path)).status).toBe(404);
    expect((await del(path, ADMIN)).status).toBe(404);
    expect(s.accessLog.filter((e) => e.method === "DELETE" && e.status === 200)).toEqual([
      expect.objectContaining({ path, instance: "main", tokenName: "oncall" }),
    ]);
    expect(s.messages).toContain(`token oncall deleted AC entry main/${key(50)}`);
    // the key can be written again
    expect((await put(s.url, path, entry(key(50), "main", ci), CI)).status).toBe(200);
    expect(s.server.metrics()).toMatch(/^hb_cache_requests_total\{method="DELETE",status="200"\} 1$/m);
  });
});

describe("the trusted keys file", () => {
  it("maps instances to keys, paths relative to the file", () => {
    const t = loadTrustedKeysFile(writeTrusted({ main: ["keys/ci.pem"], "": ["keys/release.pem"], "*": ["keys/ci.pem"] }));
    expect([...t.byInstance.keys()]).toEqual(["main", "", "*"]);
  });

  it.each<[string, unknown, RegExp]>([
    ["broken JSON", "{", /not valid JSON/],
    ["a list", ["keys/ci.pem"], /not a JSON object/],
    ["a bad instance", { "../x": ["keys/ci.pem"] }, /is not an instance name/],
    ["an empty list", { main: [] }, /must be a non-empty list/],
    ["a missing key", { main: ["keys/nope.pem"] }, /instance "main": cannot read public key .*nope\.pem: ENOENT/],
    ["not a key", { main: ["trusted.json"] }, /is not a PEM file/],
  ])("refuses %s, saying why", (_what, json, message) => {
    const path = writeTrusted(json);
    let error: unknown;
    try {
      loadTrustedKeysFile(path);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "BAD_TRUSTED_KEYS_FILE" });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.startsWith(path)).toBe(true);
  });

  it("refuses a private key where a public one belongs", () => {
    writeFileSync(join(dir, "keys", "private.pem"), ci.privateKey.export({ type: "pkcs8", format: "pem" }));
    expect(() => parseTrustedKeys(JSON.stringify({ main: ["keys/private.pem"] }), join(dir, "t.json"))).toThrow(/holds a private key/);
  });
});
