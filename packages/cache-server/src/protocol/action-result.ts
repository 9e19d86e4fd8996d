import { type Digest, SHA256_HEX } from "@hb/core/engine";
import { InvalidAcEntry } from "./invalid-entry";
import { type WireField, WireFormatError, readFields } from "./protobuf-wire";

// Field numbers of build.bazel.remote.execution.v2 (remote-apis,
// build/bazel/remote/execution/v2/remote_execution.proto):
//   Digest          { string hash = 1; int64 size_bytes = 2; }
//   OutputFile      { string path = 1; Digest digest = 2; bool is_executable = 4; bytes contents = 5; NodeProperties node_properties = 7; }
//   OutputDirectory { string path = 1; Digest tree_digest = 3; bool is_topologically_sorted = 4; Digest root_directory_digest = 5; }
//   ActionResult    { repeated OutputFile output_files = 2; repeated OutputDirectory output_directories = 3; int32 exit_code = 4;
//                     bytes stdout_raw = 5; Digest stdout_digest = 6; bytes stderr_raw = 7; Digest stderr_digest = 8;
//                     ExecutedActionMetadata execution_metadata = 9; repeated OutputSymlink output_file_symlinks = 10;
//                     repeated OutputSymlink output_directory_symlinks = 11; repeated OutputSymlink output_symlinks = 12; }

/** ActionResult's fields and their wire types; any other top-level field means it is not one. */
const ACTION_RESULT_FIELDS: ReadonlyMap<number, number> = new Map([
  [2, 2],
  [3, 2],
  [4, 0],
  [5, 2],
  [6, 2],
  [7, 2],
  [8, 2],
  [9, 2],
  [10, 2],
  [11, 2],
  [12, 2],
]);

function fail(message: string): never {
  throw new InvalidAcEntry("bad_ac_entry", `not a valid ActionResult: ${message}`);
}

function fields(bytes: Uint8Array, what: string): WireField[] {
  try {
    return [...readFields(bytes)];
  } catch (e) {
    if (e instanceof WireFormatError) fail(`${what}: ${e.message}`);
    throw e;
  }
}

function lengthDelimited(f: WireField, what: string): Uint8Array {
  if (f.wireType !== 2) fail(`${what} has wire type ${f.wireType}`);
  return f.value;
}

function decodeDigest(bytes: Uint8Array, what: string): Digest {
  let hash = "";
  let size = 0n;
  for (const f of fields(bytes, what)) {
    if (f.field === 1) hash = Buffer.from(lengthDelimited(f, `${what}.hash`)).toString("latin1");
    else if (f.field === 2 && f.wireType === 0) size = f.value;
    else fail(`${what} has an unexpected field ${f.field}`);
  }
  if (!SHA256_HEX.test(hash)) fail(`${what}.hash is not 64 lowercase hex digits`);
  // int64 on the wire: a negative size arrives as a huge unsigned varint
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what}.size_bytes is out of range`);
  return { hash, size: Number(size) };
}

/** The Digest in field `digestField` of an OutputFile or OutputDirectory (other fields are checked for well-formedness only). */
function nestedDigest(bytes: Uint8Array, digestField: number, what: string): Digest | undefined {
  let digest: Digest | undefined;
  for (const f of fields(bytes, what)) {
    if (f.field === digestField) digest = decodeDigest(lengthDelimited(f, what), `${what}.digest`);
  }
  return digest;
}

/**
 * The CAS blobs a Bazel ActionResult refers to: output files' digests, output directories'
 * Tree digests and the stdout/stderr digests. Throws InvalidAcEntry for bytes that are not an
 * ActionResult.
 */
export function actionResultReferences(bytes: Uint8Array): Digest[] {
  if (bytes.length === 0) fail("empty");
  const refs: Digest[] = [];
  for (const f of fields(bytes, "ActionResult")) {
    const wireType = ACTION_RESULT_FIELDS.get(f.field);
    if (wireType === undefined) fail(`unknown field ${f.field}`);
    if (wireType !== f.wireType) fail(`field ${f.field} has wire type ${f.wireType}, expected ${wireType}`);
    if (f.field === 2 || f.field === 3) {
      const what = f.field === 2 ? "output_files[]" : "output_directories[]";
      const digest = nestedDigest(lengthDelimited(f, what), f.field === 2 ? 2 : 3, what);
      if (!digest) fail(`${what} has no digest`);
      refs.push(digest);
    } else if (f.field === 6 || f.field === 8) {
      const what = f.field === 6 ? "stdout_digest" : "stderr_digest";
      refs.push(decodeDigest(lengthDelimited(f, what), what));
    } else if (f.wireType === 2) {
      // nested messages we do not need must still be well-formed wire format
      if (f.field >= 9) fields(f.value, `field ${f.field}`);
    }
  }
  return refs;
}
