import { type Digest, SHA256_HEX } from "@hb/core/engine";
import { InvalidAcEntry } from "./invalid-entry";

/** The AC entry format hb's clients write: a signed envelope around a JSON payload. */
export const HB_ENTRY_FORMAT = "hb-ac-entry/1";

/** What the URL says the entry must be about. */
export interface EntryAddress {
  /** the action key in the URL */
  readonly hash: string;
  /** the URL's instance, "" without one */
  readonly instance: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const HEX = /^[0-9a-f]+$/;

function fail(message: string): never {
  throw new InvalidAcEntry("bad_ac_entry", `not a valid ${HB_ENTRY_FORMAT} entry: ${message}`);
}

function parseJson(bytes: Uint8Array, what: string): Json {
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    fail(`${what} is not UTF-8`);
  }
  try {
    return JSON.parse(text) as Json;
  } catch {
    fail(`${what} is not JSON`);
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: Json | undefined): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Canonical padded base64 only: one byte string has one spelling. */
function decodeBase64(v: Json | undefined, what: string): Buffer {
  if (typeof v !== "string" || v.length === 0) fail(`${what} is not a base64 string`);
  const bytes = Buffer.from(v, "base64");
  if (bytes.toString("base64") !== v) fail(`${what} is not canonical base64`);
  return bytes;
}

/** A relative path that stays inside the output tree: no leading "/", no "." or ".." or empty segment. */
function isContainedPath(p: Json | undefined): p is string {
  return typeof p === "string" && p.length > 0 && p.split("/").every((s) => s !== "" && s !== "." && s !== "..") && !p.includes("\0");
}

function checkSignatures(v: Json | undefined): void {
  if (!Array.isArray(v) || v.length === 0) fail("signatures must be a non-empty array");
  v.forEach((s, i) => {
    if (!isObject(s) || typeof s.keyid !== "string" || !HEX.test(s.keyid)) fail(`signatures[${i}].keyid is not hex`);
    decodeBase64(s.sig, `signatures[${i}].sig`);
  });
}

function outputFiles(result: JsonObject): Digest[] {
  const files = result.files;
  if (!Array.isArray(files)) fail("result.files must be an array");
  return files.map((f, i) => {
    const what = `result.files[${i}]`;
    if (!isObject(f)) fail(`${what} is not an object`);
    if (!isContainedPath(f.path)) fail(`${what}.path is not a relative path inside the output tree`);
    if (typeof f.hash !== "string" || !SHA256_HEX.test(f.hash)) fail(`${what}.hash is not 64 lowercase hex digits`);
    if (!isCount(f.size)) fail(`${what}.size is not a non-negative integer`);
    if (typeof f.executable !== "boolean") fail(`${what}.executable is not a boolean`);
    return { hash: f.hash, size: f.size };
  });
}

/**
 * Checks an hb AC entry's structure and that it is about the URL's action key and instance,
 * and returns the CAS blobs it refers to (every `result.files[].hash`). Signatures are not
 * verified here: clients do that with the keys they trust; the server only refuses entries
 * that could never be valid or that name another key or instance than the one they are
 * stored under.
 */
export function hbEntryReferences(bytes: Uint8Array, address: EntryAddress): Digest[] {
  const envelope = parseJson(bytes, "the entry");
  if (!isObject(envelope)) fail("the entry is not a JSON object");
  if (envelope.format !== HB_ENTRY_FORMAT) fail(`format is not "${HB_ENTRY_FORMAT}"`);
  checkSignatures(envelope.signatures);
  const payload = parseJson(decodeBase64(envelope.payload, "payload"), "the payload");
  if (!isObject(payload)) fail("the payload is not a JSON object");
  if (typeof payload.actionKey !== "string" || !SHA256_HEX.test(payload.actionKey)) fail("actionKey is not 64 lowercase hex digits");
  if (typeof payload.instance !== "string") fail("instance is not a string");
  if (!isCount(payload.semanticsVersion)) fail("semanticsVersion is not a non-negative integer");
  const result = payload.result;
  if (!isObject(result)) fail("result is not an object");
  const refs = outputFiles(result);
  if (!Array.isArray(result.dirs) || !result.dirs.every(isContainedPath)) fail("result.dirs must be an array of relative paths");
  if (typeof result.exitCode !== "number" || !Number.isInteger(result.exitCode)) fail("result.exitCode is not an integer");
  if (typeof result.stdout !== "string" || typeof result.stderr !== "string") fail("result.stdout and result.stderr must be strings");
  if (payload.actionKey !== address.hash) {
    throw new InvalidAcEntry("ac_key_mismatch", `the entry is for action ${payload.actionKey}, not ${address.hash}`);
  }
  if (payload.instance !== address.instance) {
    throw new InvalidAcEntry("ac_key_mismatch", `the entry is for instance "${payload.instance}", not "${address.instance}"`);
  }
  return refs;
}
