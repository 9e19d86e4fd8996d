import { HbError, bytesOf } from "@hb/core/engine";

export { formatSize } from "@hb/core/engine";

/** A byte count given on the command line (`--max-size 10GiB`): bytesOf's, or a usage error. */
export function parseSize(text: string, what = "size"): number {
  const bytes = bytesOf(text);
  if (bytes === undefined) {
    throw new HbError("USAGE", `${what} '${text}' is not a size`, { hint: "write it as bytes or with a unit, e.g. 4096, 500MB, 10GiB" });
  }
  if (!Number.isSafeInteger(bytes)) throw new HbError("USAGE", `${what} '${text}' is too large`);
  return bytes;
}
