import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HbError } from "./errors";
import { generateKeyPair, keyId, loadPrivateKey, loadPublicKey, signBytes, verifyBytes, writeKeyPair } from "./keys";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hb-keys-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function hbError(fn: () => unknown): HbError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HbError) return e;
    throw e;
  }
  throw new Error("expected an HbError");
}

describe("writeKeyPair", () => {
  it("writes a PKCS#8 private key (0600) and an SPKI public key (0644), and nothing else", () => {
    const out = join(dir, "keys");
    const files = writeKeyPair(out, generateKeyPair());
    expect(readdirSync(out).sort()).toEqual(["private.pem", "public.pem"]);
    const privatePem = readFileSync(files.privateKeyPath, "utf8");
    const publicPem = readFileSync(files.publicKeyPath, "utf8");
    expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    expect(statSync(files.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(statSync(files.publicKeyPath).mode & 0o777).toBe(0o644);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    // the files hold one key pair, and the id is the public key's
    expect(createPublicKey(loadPrivateKey(files.privateKeyPath)).export({ type: "spki", format: "pem" })).toBe(publicPem);
    expect(files.keyId).toBe(keyId(loadPublicKey(files.publicKeyPath)));
  });

  it("refuses to overwrite existing keys unless forced", () => {
    const first = writeKeyPair(dir, generateKeyPair());
    const before = readFileSync(first.privateKeyPath, "utf8");
    const e = hbError(() => writeKeyPair(dir, generateKeyPair()));
    expect(e.code).toBe("KEY_EXISTS");
    expect(e.message).toContain(first.privateKeyPath);
    expect(e.hint).toContain("--force");
    expect(readFileSync(first.privateKeyPath, "utf8")).toBe(before);

    const second = writeKeyPair(dir, generateKeyPair(), { force: true });
    expect(second.keyId).not.toBe(first.keyId);
    expect(statSync(second.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(["private.pem", "public.pem"]);
  });

  it("refuses when only the public key exists, leaving no private key behind", () => {
    writeFileSync(join(dir, "public.pem"), "someone else's\n");
    expect(hbError(() => writeKeyPair(dir, generateKeyPair())).code).toBe("KEY_EXISTS");
    expect(existsSync(join(dir, "private.pem"))).toBe(false);
  });
});

describe("keyId", () => {
  it("is the sha256 hex of the SPKI DER, the same for the private and the public key", () => {
    const { privateKey, publicKey } = generateKeyPair();
    const der = publicKey.export({ type: "spki", format: "der" });
    expect(keyId(publicKey)).toBe(createHash("sha256").update(der).digest("hex"));
    expect(keyId(privateKey)).toBe(keyId(publicKey));
  });
});

describe("signBytes / verifyBytes", () => {
  it("verifies its own signature and nothing else", () => {
    const { privateKey, publicKey } = generateKeyPair();
    const data = Buffer.from("cache entry");
    const sig = signBytes(privateKey, data);
    expect(sig).toHaveLength(64);
    expect(verifyBytes(publicKey, data, sig)).toBe(true);
    expect(verifyBytes(publicKey, Buffer.from("cache entrY"), sig)).toBe(false);
    expect(verifyBytes(generateKeyPair().publicKey, data, sig)).toBe(false);
    expect(verifyBytes(publicKey, data, sig.subarray(1))).toBe(false);
  });

  it("refuses keys of other algorithms", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    expect(hbError(() => signBytes(rsa.privateKey, Buffer.from("x"))).code).toBe("BAD_KEY");
  });
});

describe("loadPrivateKey / loadPublicKey", () => {
  it("names a missing file and says how to make keys", () => {
    const e = hbError(() => loadPublicKey(join(dir, "nope.pem")));
    expect(e.code).toBe("KEY_UNREADABLE");
    expect(e.message).toContain(join(dir, "nope.pem"));
    expect(e.message).toContain("ENOENT");
    expect(e.hint).toContain("hb keygen");
  });

  it("rejects an RSA key, naming its type", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pub = join(dir, "rsa.pub.pem");
    const priv = join(dir, "rsa.pem");
    writeFileSync(pub, rsa.publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(priv, rsa.privateKey.export({ type: "pkcs8", format: "pem" }));
    for (const e of [hbError(() => loadPublicKey(pub)), hbError(() => loadPrivateKey(priv))]) {
      expect(e.code).toBe("BAD_KEY");
      expect(e.message).toMatch(/is a RSA key; hb signs with Ed25519 only/);
      expect(e.hint).toContain("hb keygen");
    }
  });

  it("rejects a PKCS#1 RSA private key by its PEM label", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const path = join(dir, "rsa.pem");
    writeFileSync(path, rsa.privateKey.export({ type: "pkcs1", format: "pem" }));
    const e = hbError(() => loadPrivateKey(path));
    expect(e.code).toBe("BAD_KEY");
    expect(e.message).toContain("'RSA PRIVATE KEY'");
  });

  it("tells a private key passed as the public one (and the reverse) apart", () => {
    const files = writeKeyPair(dir, generateKeyPair());
    const asPublic = hbError(() => loadPublicKey(files.privateKeyPath));
    expect(asPublic.message).toContain("holds a private key where a public key is needed");
    expect(asPublic.hint).toContain("public.pem");
    const asPrivate = hbError(() => loadPrivateKey(files.publicKeyPath));
    expect(asPrivate.message).toContain("holds a public key");
  });

  it("rejects a file that is not PEM, and a damaged PEM", () => {
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "not a key\n");
    expect(hbError(() => loadPublicKey(garbage)).message).toContain("is not a PEM file");
    const damaged = join(dir, "damaged.pem");
    writeFileSync(damaged, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    const e = hbError(() => loadPublicKey(damaged));
    expect(e.code).toBe("BAD_KEY");
    expect(e.message).toContain("is not a readable public key");
  });

  it("rejects an encrypted private key with a way out", () => {
    const { privateKey } = generateKeyPair();
    const path = join(dir, "enc.pem");
    writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }));
    const e = hbError(() => loadPrivateKey(path));
    expect(e.message).toContain("encrypted");
    expect(e.hint).toContain("openssl pkey");
  });
});
