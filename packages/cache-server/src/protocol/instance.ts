/**
 * An instance name: one URL path segment of these characters, and not "." or ".." (which
 * would mean something to a filesystem or a URL normalizer).
 */
const INSTANCE = /^[A-Za-z0-9._-]+$/;

export function isInstanceName(s: string): boolean {
  return INSTANCE.test(s) && s !== "." && s !== "..";
}
