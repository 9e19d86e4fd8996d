/**
 * Why a request was refused: a stable label for metrics and the access log. Statuses follow
 * bazel-remote where it has one (400 for a bad path or body, 405 for other methods, 404 for
 * a miss, 507 for a full disk) and HTTP's meaning elsewhere (401/403 auth, 403 an AC entry
 * not signed by a key the instance trusts, 408 a client too slow to be worth waiting for, 409 AC overwrite, 413 too large).
 */
export type RefusalReason =
  | "unauthorized"
  | "forbidden"
  | "bad_path"
  | "method_not_allowed"
  | "bad_request"
  | "too_large"
  | "length_mismatch"
  | "incomplete"
  | "hash_mismatch"
  | "bad_ac_entry"
  | "ac_key_mismatch"
  | "missing_blob"
  | "ac_conflict"
  | "unsigned_entry"
  | "untrusted_signature"
  | "disk_full"
  | "slow_client";

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "unauthorized",
  "forbidden",
  "bad_path",
  "method_not_allowed",
  "bad_request",
  "too_large",
  "length_mismatch",
  "incomplete",
  "hash_mismatch",
  "bad_ac_entry",
  "ac_key_mismatch",
  "missing_blob",
  "ac_conflict",
  "unsigned_entry",
  "untrusted_signature",
  "disk_full",
  "slow_client",
];

/** The response header that carries a refusal's reason. */
export const REFUSAL_HEADER = "X-Hb-Refusal";

export class Refusal extends Error {
  override readonly name = "Refusal";

  constructor(
    readonly status: number,
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}
