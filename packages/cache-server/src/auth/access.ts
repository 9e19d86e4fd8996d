import { timingSafeEqual } from "node:crypto";
import { presentedCredentials } from "./credentials";
import { type AccessPolicy, type Scope, type TokenGrant, tokenDigest } from "./policy";

/** Who a request is: anonymous, or the holder of one known token. */
export type Identity = { readonly kind: "anonymous" } | { readonly kind: "token"; readonly grant: TokenGrant };

export type Authentication = { ok: true; identity: Identity } | { ok: false; message: string };

const ANONYMOUS: Identity = { kind: "anonymous" };

/**
 * Every token is compared, in constant time, whether or not an earlier one matched: how long
 * this takes says nothing about which token (or which prefix of one) was presented.
 */
function findGrant(policy: AccessPolicy, token: string): TokenGrant | undefined {
  const digest = tokenDigest(token);
  let found: TokenGrant | undefined;
  for (const grant of policy.tokens) {
    if (timingSafeEqual(digest, grant.digest) && found === undefined) found = grant;
  }
  return found;
}

/** A missing token is anonymous; a malformed or unknown one is refused (401) even where anonymous access would do. */
export function authenticate(policy: AccessPolicy, authorization: string | undefined): Authentication {
  const presented = presentedCredentials(authorization);
  if (presented.kind === "none") return { ok: true, identity: ANONYMOUS };
  if (presented.kind === "malformed")
    return { ok: false, message: "malformed Authorization header (use Bearer <token> or basic auth with the token as password)" };
  const grant = findGrant(policy, presented.token);
  return grant ? { ok: true, identity: { kind: "token", grant } } : { ok: false, message: "unknown token" };
}

/** May `identity` do `scope` on `instance` (on some instance when undefined)? */
export function permits(policy: AccessPolicy, identity: Identity, scope: Scope, instance?: string): boolean {
  if (policy.anonymous.has(scope)) return true;
  if (identity.kind === "anonymous") return false;
  const { grant } = identity;
  return grant.scopes.has(scope) && (instance === undefined || grant.instances === "all" || grant.instances.has(instance));
}

export function identityName(identity: Identity): string {
  return identity.kind === "anonymous" ? "anonymous" : identity.grant.name;
}
