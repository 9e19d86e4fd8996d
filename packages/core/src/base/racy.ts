// Git's "racy clean" rule: a file whose mtime is not safely older than the moment its facts were
// recorded may change again within the same timestamp tick, so its recorded facts prove nothing.

/** how much older than the recording a file's mtime must be for its facts to be trusted */
export const RACY_MARGIN_MS = 1000;

/** Whether facts of a file with this mtime, recorded at `recordedAtMs`, must be checked by content. */
export function isRacy(mtimeMs: number, recordedAtMs: number): boolean {
  return mtimeMs >= recordedAtMs - RACY_MARGIN_MS;
}
