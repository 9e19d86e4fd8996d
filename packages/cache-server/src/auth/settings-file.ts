import { readFileSync } from "node:fs";

/** Throws the settings file's own error (BAD_TOKENS_FILE, BAD_TRUSTED_KEYS_FILE) for `source`. */
export type Refuse = (source: string, message: string) => never;

/** The text of a settings file the server reads at start and on SIGHUP, or `refuse` saying why it cannot be read. */
export function readSettingsFile(path: string, refuse: Refuse): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    return refuse(path, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** A settings file's JSON object, or `refuse`. */
export function parseSettingsObject(text: string, source: string, refuse: Refuse): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes the text around the error, which may be a token
    refuse(source, "not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) refuse(source, "not a JSON object");
  return json as Record<string, unknown>;
}
