import type { KeyObject } from "node:crypto";
import { dirname, resolve } from "node:path";
import { HbError, keyId, loadPublicKey } from "@hb/core/engine";
import { isInstanceName } from "../protocol/instance";
import { parseSettingsObject, readSettingsFile } from "./settings-file";

/**
 * The public keys whose hb entries an instance accepts (`--trusted-keys-file`): the same form as
 * a client's `remoteCache.trustedKeys`, so the server can refuse what no client would use.
 */
export interface TrustedKeys {
  /** the file they were read from */
  readonly source: string;
  /** instance name ("" the unprefixed one, "*" every instance) to its keys */
  readonly byInstance: ReadonlyMap<string, readonly KeyObject[]>;
}

function bad(source: string, message: string, hint?: string): never {
  throw new HbError("BAD_TRUSTED_KEYS_FILE", `${source}: ${message}`, {
    hint: hint ?? 'expected { "<instance>": ["<public key PEM path>", ...] } with paths relative to the file, "*" for every instance',
  });
}

/** Parses a trusted-keys file's text; key paths are relative to `source`'s directory. */
export function parseTrustedKeys(text: string, source: string): TrustedKeys {
  const json = parseSettingsObject(text, source, bad);
  const byInstance = new Map<string, KeyObject[]>();
  for (const [instance, paths] of Object.entries(json)) {
    if (instance !== "*" && instance !== "" && !isInstanceName(instance)) {
      bad(source, `${JSON.stringify(instance.slice(0, 80))} is not an instance name (A-Z a-z 0-9 . _ -, "" for the unprefixed one, "*")`);
    }
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === "string" && p !== "")) {
      bad(source, `the keys of instance "${instance}" must be a non-empty list of PEM file paths`);
    }
    const keys = (paths as string[]).map((p) => {
      try {
        return loadPublicKey(resolve(dirname(source), p));
      } catch (e) {
        if (e instanceof HbError) bad(source, `instance "${instance}": ${e.message}`, e.hint);
        throw e;
      }
    });
    byInstance.set(instance, keys);
  }
  return { source, byInstance };
}

export function loadTrustedKeysFile(path: string): TrustedKeys {
  return parseTrustedKeys(readSettingsFile(path, bad), path);
}

/** The keys trusted for `instance` (its own and those for "*"); undefined when none are configured for it. */
export function keysFor(trusted: TrustedKeys | undefined, instance: string): readonly KeyObject[] | undefined {
  if (!trusted) return undefined;
  const keys = [...(trusted.byInstance.get(instance) ?? []), ...(trusted.byInstance.get("*") ?? [])];
  return keys.length > 0 ? keys : undefined;
}

/** "2 instances, 3 keys": what the start-up and reload messages say. */
export function describeTrustedKeys(trusted: TrustedKeys): string {
  const ids = new Set([...trusted.byInstance.values()].flat().map(keyId));
  return `${trusted.byInstance.size} instances, ${ids.size} keys`;
}
