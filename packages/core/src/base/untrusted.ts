// Helpers for reading JSON nobody vouches for yet: attestations from disk, envelopes from elsewhere.

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A bounded, escaped rendering of an untrusted value, safe to print in a message. */
export function quoteUntrusted(value: unknown, max = 40): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
