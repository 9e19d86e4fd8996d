import { HbError } from "./errors";

/** Subresource Integrity, as npm lockfiles record it: `sha512-<base64>`. */
export interface Integrity {
  algorithm: "sha512" | "sha384" | "sha256";
  /** base64 of the digest */
  digest: string;
}

const STRONG = new Set(["sha512", "sha384", "sha256"]);

/**
 * The strongest hash of an SRI string (several may be listed, space-separated). sha1 alone is
 * refused: it names nothing an attacker cannot forge.
 */
export function parseIntegrity(sri: string): Integrity | undefined {
  let best: Integrity | undefined;
  const rank = (a: string) => ["sha256", "sha384", "sha512"].indexOf(a);
  for (const part of sri.trim().split(/\s+/)) {
    const m = /^(sha\d+)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(part);
    if (!m || !STRONG.has(m[1]!)) continue;
    const candidate = { algorithm: m[1] as Integrity["algorithm"], digest: m[2]! };
    if (!best || rank(candidate.algorithm) > rank(best.algorithm)) best = candidate;
  }
  return best;
}

/** sha256 hex (http_file's pin) as SRI. */
export function sha256Integrity(hex: string): string {
  return `sha256-${Buffer.from(hex, "hex").toString("base64")}`;
}

export function checkIntegrity(i: Integrity, digestBase64: string, what: string): void {
  if (digestBase64 !== i.digest) {
    // in the form the pin was written in: http_file's sha256 is hex, a lockfile's integrity SRI
    const show = (b64: string) => (i.algorithm === "sha256" ? Buffer.from(b64, "base64").toString("hex") : `${i.algorithm}-${b64}`);
    throw new HbError(
      "INTEGRITY_MISMATCH",
      `${what} does not match its pinned ${i.algorithm}: expected ${show(i.digest)}, got ${show(digestBase64)}`,
      {
        hint: "the download is not what the lockfile or BUILD.ts pinned; nothing was stored. If the pin is wrong, fix it; otherwise the source changed",
      },
    );
  }
}
