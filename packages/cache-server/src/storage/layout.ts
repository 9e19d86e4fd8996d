import { join } from "node:path";
import type { EntryKey } from "./entry";

/** Where things live under the server's `--dir`. */
export interface StoreLayout {
  readonly root: string;
  readonly indexPath: string;
  /** uploads in progress: same filesystem as blobs/, so a finished upload is renamed into place */
  readonly tmpDir: string;
  readonly blobsDir: string;
  /** present only after a clean shutdown; missing at start means the last run crashed */
  readonly cleanMarker: string;
}

export function storeLayout(root: string): StoreLayout {
  return {
    root,
    indexPath: join(root, "index.db"),
    tmpDir: join(root, "tmp"),
    blobsDir: join(root, "blobs"),
    cleanMarker: join(root, "clean-shutdown"),
  };
}

/**
 * `blobs/@<instance>/<kind>/<2 hex>/<hash>`. The `@` keeps the default instance ("@") apart from
 * every named one, and instance names never contain "/" and are never "." or "..", so a key
 * cannot name a path outside its own directory.
 */
export function entryPath(layout: StoreLayout, key: EntryKey): string {
  return join(layout.blobsDir, `@${key.instance}`, key.kind, key.hash.slice(0, 2), key.hash);
}
