// Where the attestations about an artifact are: the files and directories named on the command
// line, and the artifact's own beside it (its provenance, `<artifact>.intoto.jsonl`, and each
// rebuilder's `<artifact>.rebuild.<key id prefix>.intoto.jsonl`).
import { readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { sha256Hex } from "../base/digest";
import { HbError } from "../base/errors";
import { ATTESTATION_SUFFIX } from "./attestation";

/** A gate's verification summary: about the artifact, but not an attestation of how it was built. */
export const VSA_SUFFIX = `.vsa${ATTESTATION_SUFFIX}`;

/** `<artifact basename>.rebuild.<key id prefix>.intoto.jsonl`: an independent rebuilder's attestation. */
export function rebuildAttestationName(artifactBasename: string, keyIdPrefix: string): string {
  return `${artifactBasename}.rebuild.${keyIdPrefix}${ATTESTATION_SUFFIX}`;
}

export interface AttestationFile {
  /** as named (a directory's files: the directory joined with the file name) */
  path: string;
  text: string;
  /** sha256 of the file's bytes, as a verification summary lists its input attestations */
  sha256: string;
}

function unreadable(path: string, e: unknown, hint: string): HbError {
  return new HbError("UNREADABLE_FILE", `cannot read attestation ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
    hint,
  });
}

function read(path: string, hint: string): AttestationFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw unreadable(path, e, hint);
  }
  return { path, text: bytes.toString("utf8"), sha256: sha256Hex(bytes) };
}

const isAttestation = (name: string) => name.endsWith(ATTESTATION_SUFFIX) && !name.endsWith(VSA_SUFFIX);

/**
 * The attestation files for `artifact` (absolute paths throughout): each of `given`, a file or a
 * directory (its `*.intoto.jsonl`, not recursively), then those beside the artifact, each file
 * once. A name given that cannot be read is an error; the artifact's own that are absent are not.
 */
export function findAttestationFiles(artifact: string, given: readonly string[]): AttestationFile[] {
  const paths: string[] = [];
  const hint = `name a readable file or directory with --attestation (by default hb reads ${basename(artifact)}${ATTESTATION_SUFFIX} and its .rebuild.*${ATTESTATION_SUFFIX} beside it)`;
  for (const g of given) {
    let isDir: boolean;
    try {
      isDir = statSync(g).isDirectory();
    } catch (e) {
      throw unreadable(g, e, hint);
    }
    if (!isDir) {
      paths.push(g);
      continue;
    }
    try {
      paths.push(
        ...readdirSync(g)
          .filter(isAttestation)
          .sort()
          .map((n) => join(g, n)),
      );
    } catch (e) {
      throw unreadable(g, e, hint);
    }
  }
  const name = basename(artifact);
  let beside: string[] = [];
  try {
    beside = readdirSync(dirname(artifact))
      .filter((n) => n === `${name}${ATTESTATION_SUFFIX}` || (n.startsWith(`${name}.rebuild.`) && isAttestation(n)))
      .sort()
      .map((n) => join(dirname(artifact), n));
  } catch {
    // no directory to look in: the artifact itself is reported unreadable by its caller
  }
  const seen = new Set<string>();
  const files: AttestationFile[] = [];
  for (const p of [...paths, ...beside]) {
    let real: string;
    try {
      real = realpathSync(p);
    } catch (e) {
      throw unreadable(p, e, hint);
    }
    if (seen.has(real)) continue;
    seen.add(real);
    files.push(read(p, hint));
  }
  return files;
}
