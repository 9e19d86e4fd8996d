/** The two keyspaces of the Bazel HTTP cache protocol. */
export type EntryKind = "cas" | "ac";

/**
 * One stored entry: a CAS blob named by the sha256 of its bytes, or an AC entry named by an
 * action key. `instance` is the URL's instance prefix ("" without one); each instance is a
 * namespace of its own for both kinds.
 */
export interface EntryKey {
  readonly instance: string;
  readonly kind: EntryKind;
  readonly hash: string;
}

/** What the index knows of a stored file: its content and the inode facts it had when stored. */
export interface EntryRow {
  /** sha256 of the file's bytes (for a CAS blob, its name) */
  readonly sha256: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

export function entryId(key: EntryKey): string {
  return `${key.kind}/${key.instance}/${key.hash}`;
}
