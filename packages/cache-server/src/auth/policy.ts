import { createHash } from "node:crypto";
import { HbError } from "@hb/core/engine";
import { isInstanceName } from "../protocol/instance";
import { parseSettingsObject, readSettingsFile } from "./settings-file";

/** read: GET and HEAD; write: PUT; admin: DELETE of an AC entry (removing a bad one by hand). */
export type Scope = "read" | "write" | "admin";

const SCOPES: readonly Scope[] = ["read", "write", "admin"];

export interface TokenGrant {
  /** what logs and metrics call this token: its `name`, or `token#<index>`; never the token */
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** instance names ("" is the default, unprefixed one), or every instance */
  readonly instances: ReadonlySet<string> | "all";
  /** sha256 of the token: compared in constant time, and the token itself is not kept */
  readonly digest: Buffer;
}

export interface AccessPolicy {
  /** what a request without credentials may do, on every instance */
  readonly anonymous: ReadonlySet<Scope>;
  readonly tokens: readonly TokenGrant[];
}

/** Without a tokens file, on loopback only: everyone on this machine may read and write (never delete). */
export const LOOPBACK_OPEN_POLICY: AccessPolicy = { anonymous: new Set(["read", "write"]), tokens: [] };

// URL-safe characters only, so a token also works as the password in
// --remote_cache=http://user:TOKEN@host; long enough not to be guessed.
const TOKEN = /^[A-Za-z0-9._~-]{16,}$/;

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function bad(source: string, message: string): never {
  throw new HbError("BAD_TOKENS_FILE", `${source}: ${message}`, {
    hint: 'expected { "anonymousRead": false, "tokens": [ { "token": "...", "scopes": ["read", "write"], "instances": ["*"] } ] }',
  });
}

function parseGrant(entry: unknown, i: number, source: string, seen: Set<string>): TokenGrant {
  const where = `tokens[${i}]`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) bad(source, `${where} is not an object`);
  const e = entry as Record<string, unknown>;
  // messages name the entry, never the token's value
  if (typeof e.token !== "string" || !TOKEN.test(e.token)) {
    bad(source, `${where}.token must be at least 16 characters of A-Z a-z 0-9 . _ ~ -`);
  }
  const digest = tokenDigest(e.token);
  if (seen.has(digest.toString("hex"))) bad(source, `${where}.token repeats an earlier token`);
  seen.add(digest.toString("hex"));
  if (e.name !== undefined && (typeof e.name !== "string" || !/^[\w.@-]{1,64}$/.test(e.name))) {
    bad(source, `${where}.name must be 1-64 characters of A-Z a-z 0-9 _ . @ -`);
  }
  if (!Array.isArray(e.scopes) || e.scopes.length === 0 || !e.scopes.every((s) => SCOPES.includes(s as Scope))) {
    bad(source, `${where}.scopes must be a non-empty list of "read", "write" and "admin"`);
  }
  if (
    !Array.isArray(e.instances) ||
    e.instances.length === 0 ||
    !e.instances.every((s) => s === "*" || s === "" || (typeof s === "string" && isInstanceName(s)))
  ) {
    bad(source, `${where}.instances must be a non-empty list of instance names ("" for the unprefixed one, "*" for all)`);
  }
  const instances = e.instances as string[];
  return {
    name: (e.name as string | undefined) ?? `token#${i}`,
    scopes: new Set(e.scopes as Scope[]),
    instances: instances.includes("*") ? "all" : new Set(instances),
    digest,
  };
}

export function parseTokens(text: string, source: string): AccessPolicy {
  const file = parseSettingsObject(text, source, bad);
  for (const key of Object.keys(file)) {
    if (key !== "anonymousRead" && key !== "tokens") bad(source, `unknown key '${key}'`);
  }
  if (file.anonymousRead !== undefined && typeof file.anonymousRead !== "boolean") bad(source, "anonymousRead must be true or false");
  if (!Array.isArray(file.tokens)) bad(source, "tokens must be a list");
  const seen = new Set<string>();
  const tokens = file.tokens.map((t, i) => parseGrant(t, i, source, seen));
  return { anonymous: new Set(file.anonymousRead === true ? ["read"] : []), tokens };
}

export function loadTokensFile(path: string): AccessPolicy {
  return parseTokens(readSettingsFile(path, bad), path);
}
