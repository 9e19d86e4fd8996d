/** What a request's Authorization header presents. */
export type Presented = { kind: "none" } | { kind: "token"; token: string } | { kind: "malformed" };

/**
 * `Authorization: Bearer <token>`, or HTTP basic auth with the token as the password and any
 * user name: Bazel sends `--remote_cache=http://user:TOKEN@host` as `Basic base64url(user:TOKEN)`
 * (AbstractHttpHandler.addCredentialHeaders uses BaseEncoding.base64Url()), so both base64
 * alphabets are accepted.
 */
export function presentedCredentials(header: string | undefined): Presented {
  if (header === undefined) return { kind: "none" };
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return { kind: "malformed" };
  const scheme = m[1]!.toLowerCase();
  if (scheme === "bearer") return { kind: "token", token: m[2]! };
  if (scheme !== "basic" || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(m[2]!)) return { kind: "malformed" };
  const decoded = Buffer.from(m[2]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0 || colon === decoded.length - 1) return { kind: "malformed" };
  return { kind: "token", token: decoded.slice(colon + 1) };
}
