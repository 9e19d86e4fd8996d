// DSSE v1, the Dead Simple Signing Envelope, to the letter of its spec:
//   protocol (PAE, signing, verification order): https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md
//   JSON envelope and its parsing rules:          https://github.com/secure-systems-lab/dsse/blob/v1.0.2/envelope.md
// An envelope read from disk is untrusted input: every field is checked before use, and a
// failure says which field and why.
import type { KeyObject } from "node:crypto";
import { keyId, signBytes, verifyBytes } from "./keys";
import { isObject, quoteUntrusted } from "./untrusted";

export interface EnvelopeSignature {
  /** unauthenticated hint naming the key (hb: `keyId()`); unset means the same as empty */
  keyid?: string;
  /** base64 of the signature over `pae(payloadType, payload)` */
  sig: string;
}

/** The JSON envelope, as it is serialized. */
export interface Envelope {
  /** base64 of the serialized body */
  payload: string;
  payloadType: string;
  signatures: EnvelopeSignature[];
}

/** An envelope whose base64 fields are decoded; nothing in it is verified yet. */
export interface DecodedEnvelope {
  payload: Buffer;
  payloadType: string;
  signatures: { keyid: string; sig: Buffer }[];
}

export type DsseFailureReason = "format" | "signature";

export interface DsseFailure {
  ok: false;
  reason: DsseFailureReason;
  message: string;
}

export interface DsseVerified {
  ok: true;
  payload: Buffer;
  payloadType: string;
  /** `keyId()` of the trusted key that verified a signature */
  keyId: string;
}

/**
 * Pre-Authentication Encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where LEN
 * is the ASCII decimal byte length without leading zeros. Signing it, rather than the payload
 * alone, binds the payload type into the signature.
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.byteLength} `), payload]);
}

/** Signs `payload` as `payloadType`; base64 is written in the standard, padded form. */
export function signEnvelope(payload: Uint8Array, payloadType: string, privateKey: KeyObject): Envelope {
  return {
    payload: Buffer.from(payload).toString("base64"),
    payloadType,
    signatures: [{ keyid: keyId(privateKey), sig: signBytes(privateKey, pae(payloadType, payload)).toString("base64") }],
  };
}

/** One line of JSON with the spec's field order: a line of an `.intoto.jsonl` bundle. */
export function serializeEnvelope(envelope: Envelope): string {
  return JSON.stringify({
    payload: envelope.payload,
    payloadType: envelope.payloadType,
    signatures: envelope.signatures.map((s) => (s.keyid === undefined ? { sig: s.sig } : { keyid: s.keyid, sig: s.sig })),
  });
}

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE_BASE64 = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/**
 * RFC 4648 base64, padded, in one alphabet: the spec makes verifiers accept the URL-safe one
 * too. Node's decoder skips characters it does not know, so the shape is checked first, and the
 * bytes must encode back to the same text (no stray bits in the last character).
 */
function decodeBase64(text: string): Buffer | undefined {
  if (STANDARD_BASE64.test(text)) {
    const bytes = Buffer.from(text, "base64");
    return bytes.toString("base64") === text ? bytes : undefined;
  }
  if (URL_SAFE_BASE64.test(text)) {
    const bytes = Buffer.from(text, "base64url");
    const encoded = bytes.toString("base64url");
    return encoded + "=".repeat((4 - (encoded.length % 4)) % 4) === text ? bytes : undefined;
  }
  return undefined;
}

function formatFailure(message: string): DsseFailure {
  return { ok: false, reason: "format", message };
}

/**
 * Checks an envelope's shape and decodes its base64. Unknown fields are ignored, as the
 * envelope spec's parsing rules require of consumers.
 */
export function decodeEnvelope(value: unknown): { ok: true; envelope: DecodedEnvelope } | DsseFailure {
  if (!isObject(value)) return formatFailure("not a DSSE envelope: expected a JSON object with payload, payloadType and signatures");
  const { payload, payloadType, signatures } = value;
  if (typeof payloadType !== "string") return formatFailure("the envelope has no string 'payloadType'");
  if (typeof payload !== "string") return formatFailure("the envelope has no string 'payload'");
  const body = decodeBase64(payload);
  if (body === undefined)
    return formatFailure(`'payload' is not padded base64 (standard or URL-safe alphabet): ${quoteUntrusted(payload)}`);
  if (!Array.isArray(signatures)) return formatFailure("the envelope has no 'signatures' array");
  const decoded: DecodedEnvelope["signatures"] = [];
  for (const [i, s] of signatures.entries()) {
    if (!isObject(s)) return formatFailure(`signatures[${i}] is not an object`);
    if (typeof s.sig !== "string") return formatFailure(`signatures[${i}] has no string 'sig'`);
    if (s.keyid !== undefined && typeof s.keyid !== "string") return formatFailure(`signatures[${i}].keyid is not a string`);
    const sig = decodeBase64(s.sig);
    if (sig === undefined)
      return formatFailure(`signatures[${i}].sig is not padded base64 (standard or URL-safe alphabet): ${quoteUntrusted(s.sig)}`);
    decoded.push({ keyid: s.keyid ?? "", sig });
  }
  return { ok: true, envelope: { payload: body, payloadType, signatures: decoded } };
}

/**
 * Verifies an envelope against trusted public keys: valid when any signature verifies with any
 * of them (DSSE's multi-signature rule with threshold 1). Key ids are only used to explain a
 * failure, never to decide, as the spec requires. The caller then checks the payload type and
 * parses the payload, in that order.
 */
export function verifyEnvelope(value: unknown, publicKeys: readonly KeyObject[]): DsseVerified | DsseFailure {
  const decoded = decodeEnvelope(value);
  if (!decoded.ok) return decoded;
  const { payload, payloadType, signatures } = decoded.envelope;
  if (signatures.length === 0) return { ok: false, reason: "signature", message: "the envelope carries no signatures" };
  const message = pae(payloadType, payload);
  for (const { sig } of signatures) {
    for (const key of publicKeys) {
      if (verifyBytes(key, message, sig)) return { ok: true, payload, payloadType, keyId: keyId(key) };
    }
  }
  return { ok: false, reason: "signature", message: explainBadSignature(signatures, publicKeys.map(keyId)) };
}

function explainBadSignature(signatures: DecodedEnvelope["signatures"], trusted: string[]): string {
  const trustedList = trusted.length === 0 ? "no trusted keys were given" : `trusted key ${trusted.map(shortId).join(", ")}`;
  if (signatures.some((s) => trusted.includes(s.keyid))) {
    return `the signature made with ${trustedList} does not match the signed content: the payload, its type or the signature was altered after signing`;
  }
  const claimed = signatures.map((s) => s.keyid).filter((id) => id !== "");
  if (claimed.length > 0) {
    return `signed by key ${claimed.map((id) => (/^[0-9a-f]{64}$/.test(id) ? shortId(id) : quoteUntrusted(id, 20))).join(", ")}, which is not trusted (${trustedList}): verify with the signer's public key`;
  }
  return `no signature verifies with ${trustedList}: a different key signed it, or the envelope was altered after signing`;
}

/** Enough of a key id to tell keys apart in a message. */
export function shortId(id: string): string {
  return id.slice(0, 16);
}
