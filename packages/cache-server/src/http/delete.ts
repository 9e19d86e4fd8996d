import type { EntryKey } from "../storage/entry";
import type { Exchange, ServerContext } from "./context";
import { respondText } from "./respond";

/**
 * DELETE of an AC entry, for a token with the admin scope (checked by the caller): the way to
 * remove an entry that should never have been stored, since entries are otherwise write-once.
 * The access log names the token; the server's log says what was removed.
 */
export function handleDelete(ctx: ServerContext, x: Exchange, key: EntryKey): void {
  if (!ctx.store.lookup(key)) return respondText(x, 404, "Not found");
  ctx.store.remove(key);
  ctx.log(`token ${x.tokenName} deleted AC entry ${key.instance ? `${key.instance}/` : ""}${key.hash}`);
  respondText(x, 200, "deleted");
}
