// Ed25519 signing keys: what signs provenance attestations and, later, remote-cache entries.
// Only `node:crypto`: the signing code is small enough to trust, with no dependency to audit.
import { type KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { chmodSync, existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HbError } from "./errors";
import { sha256Hex } from "./digest";
import { makeWritableDir } from "./writable-dir";

export const PRIVATE_KEY_FILE = "private.pem";
export const PUBLIC_KEY_FILE = "public.pem";

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface KeyFiles {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

export function generateKeyPair(): SigningKeyPair {
  return generateKeyPairSync("ed25519");
}

/**
 * A key's id: sha256 hex of its SubjectPublicKeyInfo DER. The SPKI names the algorithm along
 * with the key bytes, is what `public.pem` holds (so `openssl pkey -pubin -outform DER | sha256sum`
 * recomputes it), and is one stable encoding whatever tool made the key. A private key's id is
 * its public key's. The id is a hint for choosing a key and for messages, never a proof.
 */
export function keyId(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return sha256Hex(publicKey.export({ type: "spki", format: "der" }));
}

function requireEd25519(key: KeyObject, use: string): void {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new HbError("BAD_KEY", `cannot ${use} with a ${key.asymmetricKeyType ?? key.type} key: hb signs with Ed25519 only`);
  }
}

export function signBytes(privateKey: KeyObject, data: Uint8Array): Buffer {
  requireEd25519(privateKey, "sign");
  // Ed25519 hashes internally: the algorithm argument must be null
  return sign(null, data, privateKey);
}

/** Whether `signature` is `publicKey`'s signature of `data`; malformed signatures are just invalid. */
export function verifyBytes(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  requireEd25519(publicKey, "verify");
  try {
    return verify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Writes `DIR/private.pem` (PKCS#8, mode 0600) and `DIR/public.pem` (SPKI, mode 0644). Each file
 * is written in full under a temp name first, so no reader sees half a key; without `force` it
 * is hard-linked into place, which fails rather than replace a key that appeared meanwhile.
 */
export function writeKeyPair(dir: string, pair: SigningKeyPair, opts: { force?: boolean } = {}): KeyFiles {
  requireEd25519(pair.privateKey, "store");
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  if (!opts.force) {
    for (const path of [privateKeyPath, publicKeyPath]) {
      if (existsSync(path)) throw keyExists(path);
    }
  }
  makeWritableDir(
    dir,
    (why) =>
      new HbError("USAGE", `cannot write keys to ${dir}: ${why}`, { hint: "give --out a writable directory; it is created if missing" }),
    0o700,
  );
  const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" });
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" });
  // the private key first: a crash in between leaves a key whose public half can be recomputed
  placeFile(privateKeyPath, privatePem, 0o600, opts.force === true);
  try {
    placeFile(publicKeyPath, publicPem, 0o644, opts.force === true);
  } catch (e) {
    if (!opts.force) rmSync(privateKeyPath, { force: true });
    throw e;
  }
  return { privateKeyPath, publicKeyPath, keyId: keyId(pair.publicKey) };
}

function keyExists(path: string): HbError {
  return new HbError("KEY_EXISTS", `${path} already exists; hb does not overwrite a signing key`, {
    hint: "choose another directory, or force the overwrite (hb keygen --force); what the old key signed will not verify with the new public key",
  });
}

function placeFile(path: string, content: string | Buffer, mode: number, replace: boolean): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, content, { mode, flag: "wx" });
    chmodSync(tmp, mode); // the umask may have taken bits the public key should have
    if (replace) {
      renameSync(tmp, path);
    } else {
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw keyExists(path);
        throw e;
      }
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

type KeyKind = "private" | "public";

const HOW_TO_MAKE = "make an Ed25519 key pair with 'hb keygen --out DIR'";

/** Loads an Ed25519 private key from a PKCS#8 PEM file (`private.pem` as `hb keygen` writes it). */
export function loadPrivateKey(path: string): KeyObject {
  const pem = readKeyFile(path, "private");
  checkPemLabel(path, pem, "private");
  return ed25519Only(path, "private", () => createPrivateKey({ key: pem, format: "pem" }));
}

/** Loads an Ed25519 public key from an SPKI PEM file (`public.pem` as `hb keygen` writes it). */
export function loadPublicKey(path: string): KeyObject {
  const pem = readKeyFile(path, "public");
  checkPemLabel(path, pem, "public");
  return ed25519Only(path, "public", () => createPublicKey({ key: pem, format: "pem" }));
}

function readKeyFile(path: string, kind: KeyKind): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT"
        ? `check the path, or ${HOW_TO_MAKE}`
        : code === "EACCES"
          ? "check the file's permissions (a private key is readable by its owner only)"
          : code === "EISDIR"
            ? `name the file itself (${kind === "private" ? PRIVATE_KEY_FILE : PUBLIC_KEY_FILE} in that directory)`
            : undefined;
    throw new HbError("KEY_UNREADABLE", `cannot read ${kind} key ${path}: ${code ?? (e as Error).message}`, { hint });
  }
}

/** The PEM label says what a file holds before any parsing, so a mix-up gets a precise message. */
function checkPemLabel(path: string, pem: string, kind: KeyKind): void {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  const expected = kind === "private" ? "PRIVATE KEY" : "PUBLIC KEY";
  if (label === expected) return;
  if (label === undefined) {
    throw new HbError("BAD_KEY", `${path} is not a PEM file (no '-----BEGIN ${expected}-----' line)`, { hint: HOW_TO_MAKE });
  }
  if (kind === "public" && label.endsWith("PRIVATE KEY")) {
    throw new HbError("BAD_KEY", `${path} holds a private key where a public key is needed`, {
      hint: `pass the ${PUBLIC_KEY_FILE} beside it: a private key never needs to leave the signer`,
    });
  }
  if (kind === "private" && label === "PUBLIC KEY") {
    throw new HbError("BAD_KEY", `${path} holds a public key; signing needs the private key`, {
      hint: `pass the ${PRIVATE_KEY_FILE} beside it`,
    });
  }
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw new HbError("BAD_KEY", `${path} is an encrypted private key; hb reads unencrypted PKCS#8 keys only`, {
      hint: `decrypt it to a file only you can read (openssl pkey -in ${path} -out DECRYPTED.pem), or ${HOW_TO_MAKE}`,
    });
  }
  throw new HbError("BAD_KEY", `${path} holds a '${label}', not an Ed25519 ${kind === "private" ? "PKCS#8 private" : "SPKI public"} key`, {
    hint: HOW_TO_MAKE,
  });
}

function ed25519Only(path: string, kind: KeyKind, parse: () => KeyObject): KeyObject {
  let key: KeyObject;
  try {
    key = parse();
  } catch (e) {
    throw new HbError("BAD_KEY", `${path} is not a readable ${kind} key: ${(e as Error).message}`, { hint: HOW_TO_MAKE });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new HbError("BAD_KEY", `${path} is a ${key.asymmetricKeyType?.toUpperCase() ?? "unknown"} key; hb signs with Ed25519 only`, {
      hint: HOW_TO_MAKE,
    });
  }
  return key;
}
