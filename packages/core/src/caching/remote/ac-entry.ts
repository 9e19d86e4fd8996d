import type { KeyObject } from "node:crypto";
import { posix } from "node:path";
import type { ActionResult } from "../action-cache";
import { ACTION_SEMANTICS_VERSION } from "../../keying/action-key";
import type { ActionSpec } from "../../base/graph";
import { keyId } from "../../base/keys";
import { SHA256_HEX } from "../../base/digest";
import { decodeEnvelope, signEnvelope, verifyEnvelope } from "../../base/dsse";

// hb's action-cache entry on a remote cache: a DSSE envelope (plus a `format` field the server
// reads) whose signed payload binds the result to the action key, the instance and hb's
// action-semantics version, so a genuine entry cannot be replayed under another key, in another
// instance, or by another hb.

export const AC_ENTRY_FORMAT = "hb-ac-entry/1";
export const AC_ENTRY_PAYLOAD_TYPE = "application/vnd.hb.ac-entry.v1+json";

export interface AcEntryPayload {
  actionKey: string;
  instance: string;
  semanticsVersion: number;
  result: ActionResult;
}

export type RejectReason =
  | "unsigned"
  | "untrusted"
  | "bad-signature"
  | "replayed"
  | "stale-version"
  | "malformed"
  | "unsafe-paths"
  | "corrupt-blob"
  | "missing-blob";

/**
 * The reasons that say an entry was wrong: not signed by a key trusted for it, tampered with,
 * replayed from another action or instance, broken, or its content not what it claims. Each is a
 * correctness incident. The others are not: an entry made by an hb of other action semantics
 * (stale-version), or one whose blob the server no longer holds (missing-blob: evicted).
 */
export const CORRECTNESS_REJECT_REASONS: readonly RejectReason[] = [
  "unsigned",
  "untrusted",
  "bad-signature",
  "replayed",
  "malformed",
  "unsafe-paths",
  "corrupt-blob",
];

export type EntryVerdict = { ok: true; result: ActionResult; keyId: string } | { ok: false; reason: RejectReason; message: string };

export function signAcEntry(payload: AcEntryPayload, key: KeyObject): Buffer {
  const envelope = signEnvelope(Buffer.from(JSON.stringify(payload)), AC_ENTRY_PAYLOAD_TYPE, key);
  return Buffer.from(JSON.stringify({ format: AC_ENTRY_FORMAT, ...envelope }));
}

/**
 * The paths of a received result must be exactly what the action declares: its output files, or
 * files under its output directories, with links that stay inside them. Anything else (`..`, an
 * absolute path, a link out) would write outside hb-out/ when materialized.
 */
export function unsafePaths(result: ActionResult, action: ActionSpec): string | undefined {
  const files = new Set(action.outputs);
  const dirs = action.outputDirs;
  if (result.dirs.length !== dirs.length || result.dirs.some((d, i) => d !== dirs[i])) return "its output directories are not the action's";
  for (const f of result.files) {
    if (typeof f.path !== "string" || posix.normalize(f.path) !== f.path || f.path.includes("\0"))
      return `path ${JSON.stringify(f.path)} is not normal`;
    const inDir = dirs.find((d) => f.path.startsWith(d + "/"));
    if (!files.has(f.path) && !inDir) return `${f.path} is not an output of the action`;
    if (f.symlink !== undefined) {
      if (!inDir) return `${f.path}: only files inside an output directory may be links`;
      const landing = posix.normalize(posix.join(posix.dirname(f.path), f.symlink));
      if (f.symlink.startsWith("/") || !landing.startsWith(inDir + "/")) return `${f.path} links outside its directory (${f.symlink})`;
    } else if (!SHA256_HEX.test(f.hash) || !Number.isSafeInteger(f.size) || f.size < 0) {
      return `${f.path} has a malformed digest`;
    }
  }
  for (const o of action.outputs) if (!result.files.some((f) => f.path === o)) return `it lacks the output ${o}`;
  return undefined;
}

/** Checks a received entry before anything of it is used; a rejection is a miss, never a partial use. */
export function openAcEntry(
  bytes: Buffer,
  expected: { actionKey: string; instance: string; action: ActionSpec },
  trusted: readonly KeyObject[],
): EntryVerdict {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed", message: "not JSON (not an hb entry)" };
  }
  if ((json as { format?: unknown })?.format !== AC_ENTRY_FORMAT)
    return { ok: false, reason: "malformed", message: "not an hb-ac-entry/1" };
  const decoded = decodeEnvelope(json);
  if (!decoded.ok) return { ok: false, reason: "malformed", message: decoded.message };
  if (decoded.envelope.signatures.length === 0) return { ok: false, reason: "unsigned", message: "the entry carries no signature" };
  const verified = verifyEnvelope(json, trusted);
  if (!verified.ok) {
    const trustedIds = new Set(trusted.map(keyId));
    const claimsTrusted = decoded.envelope.signatures.some((s) => trustedIds.has(s.keyid));
    return { ok: false, reason: claimsTrusted ? "bad-signature" : "untrusted", message: verified.message };
  }
  if (verified.payloadType !== AC_ENTRY_PAYLOAD_TYPE)
    return { ok: false, reason: "malformed", message: `payload type ${verified.payloadType}` };
  let payload: AcEntryPayload;
  try {
    payload = JSON.parse(verified.payload.toString("utf8")) as AcEntryPayload;
  } catch {
    return { ok: false, reason: "malformed", message: "the signed payload is not JSON" };
  }
  if (payload.actionKey !== expected.actionKey || payload.instance !== expected.instance) {
    return {
      ok: false,
      reason: "replayed",
      message: `signed for action ${String(payload.actionKey).slice(0, 12)} in instance '${payload.instance}', read as ${expected.actionKey.slice(0, 12)} in '${expected.instance}'`,
    };
  }
  if (payload.semanticsVersion !== ACTION_SEMANTICS_VERSION) {
    return {
      ok: false,
      reason: "stale-version",
      message: `made by an hb with action semantics ${payload.semanticsVersion}, this one has ${ACTION_SEMANTICS_VERSION}`,
    };
  }
  const r = payload.result;
  if (!r || !Array.isArray(r.files) || !Array.isArray(r.dirs) || r.exitCode !== 0)
    return { ok: false, reason: "malformed", message: "no successful result in the payload" };
  const unsafe = unsafePaths(r, expected.action);
  if (unsafe) return { ok: false, reason: "unsafe-paths", message: unsafe };
  return { ok: true, result: r, keyId: verified.keyId };
}
