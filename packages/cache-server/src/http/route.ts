import { SHA256_HEX } from "@hb/core/engine";
import { isInstanceName } from "../protocol/instance";
import type { EntryKey, EntryKind } from "../storage/entry";

export type Route =
  | { readonly type: "status" }
  | { readonly type: "metrics" }
  | { readonly type: "entry"; readonly key: EntryKey }
  | { readonly type: "bad"; readonly message: string };

const ENTRY_PATH = /^\/(?:([^/]+)\/)?(cas|ac)\/([^/]*)$/;

/**
 * `/cas/<sha256>`, `/ac/<sha256>`, or either under one instance segment: `/<instance>/cas/...`
 * (bazel-remote's README: "/<instance>/cas/<key>"; Bazel appends "cas/<hash>" or "ac/<hash>"
 * to the path of --remote_cache). Nothing is decoded or normalized: a percent sign, a dot
 * segment, an extra segment or a hash that is not 64 lowercase hex digits is refused, so a
 * path that reaches the store is exactly the entry it names.
 */
export function routeOf(url: string): Route {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (path === "/status") return { type: "status" };
  if (path === "/metrics") return { type: "metrics" };
  if (path.includes("%")) return { type: "bad", message: "percent-encoded paths are not accepted" };
  const m = ENTRY_PATH.exec(path);
  if (!m) return { type: "bad", message: "expected /cas/<sha256>, /ac/<sha256> or /<instance>/(cas|ac)/<sha256>" };
  const instance = m[1] ?? "";
  if (m[1] !== undefined && !isInstanceName(instance)) {
    return { type: "bad", message: "an instance name is one path segment of A-Z a-z 0-9 . _ - (not . or ..)" };
  }
  if (!SHA256_HEX.test(m[3]!)) return { type: "bad", message: "the key must be 64 lowercase hex digits (a sha256)" };
  return { type: "entry", key: { instance, kind: m[2] as EntryKind, hash: m[3]! } };
}
