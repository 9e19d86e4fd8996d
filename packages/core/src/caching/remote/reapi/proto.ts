import protobuf from "protobufjs";

// The messages of the Remote Execution API v2 (bazelbuild/remote-apis) that hb sends or reads,
// with ByteStream, long-running Operations and rpc.Status, written from the spec: only what hb
// uses, with the spec's field numbers (proto.test.ts checks them against the reference .proto
// files). Unknown fields a server sends are skipped when decoding, as protobuf does.

const SCHEMA = `
syntax = "proto3";

package google.protobuf;
message Any { string type_url = 1; bytes value = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;

const RPC = `
syntax = "proto3";
package google.rpc;
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
message PreconditionFailure {
  message Violation { string type = 1; string subject = 2; string description = 3; }
  repeated Violation violations = 1;
}
`;

const LONGRUNNING = `
syntax = "proto3";
package google.longrunning;
message Operation {
  string name = 1;
  google.protobuf.Any metadata = 2;
  bool done = 3;
  oneof result { google.rpc.Status error = 4; google.protobuf.Any response = 5; }
}
`;

const BYTESTREAM = `
syntax = "proto3";
package google.bytestream;
message ReadRequest { string resource_name = 1; int64 read_offset = 2; int64 read_limit = 3; }
message ReadResponse { bytes data = 10; }
message WriteRequest { string resource_name = 1; int64 write_offset = 2; bool finish_write = 3; bytes data = 10; }
message WriteResponse { int64 committed_size = 1; }
message QueryWriteStatusRequest { string resource_name = 1; }
message QueryWriteStatusResponse { int64 committed_size = 1; bool complete = 2; }
`;

const SEMVER = `
syntax = "proto3";
package build.bazel.semver;
message SemVer { int32 major = 1; int32 minor = 2; int32 patch = 3; string prerelease = 4; }
`;

const REAPI = `
syntax = "proto3";
package build.bazel.remote.execution.v2;
message Digest { string hash = 1; int64 size_bytes = 2; }
message Action {
  Digest command_digest = 1;
  Digest input_root_digest = 2;
  google.protobuf.Duration timeout = 6;
  bool do_not_cache = 7;
  bytes salt = 9;
  Platform platform = 10;
}
message Command {
  message EnvironmentVariable { string name = 1; string value = 2; }
  repeated string arguments = 1;
  repeated EnvironmentVariable environment_variables = 2;
  repeated string output_files = 3;
  repeated string output_directories = 4;
  Platform platform = 5;
  string working_directory = 6;
  repeated string output_paths = 7;
}
message Platform {
  message Property { string name = 1; string value = 2; }
  repeated Property properties = 1;
}
message Directory {
  repeated FileNode files = 1;
  repeated DirectoryNode directories = 2;
  repeated SymlinkNode symlinks = 3;
}
message FileNode { string name = 1; Digest digest = 2; bool is_executable = 4; }
message DirectoryNode { string name = 1; Digest digest = 2; }
message SymlinkNode { string name = 1; string target = 2; }
message ExecutedActionMetadata {
  string worker = 1;
  google.protobuf.Timestamp queued_timestamp = 2;
  google.protobuf.Timestamp worker_start_timestamp = 3;
  google.protobuf.Timestamp worker_completed_timestamp = 4;
  google.protobuf.Timestamp execution_start_timestamp = 7;
  google.protobuf.Timestamp execution_completed_timestamp = 8;
  repeated google.protobuf.Any auxiliary_metadata = 11;
}
message ActionResult {
  repeated OutputFile output_files = 2;
  repeated OutputDirectory output_directories = 3;
  int32 exit_code = 4;
  bytes stdout_raw = 5;
  Digest stdout_digest = 6;
  bytes stderr_raw = 7;
  Digest stderr_digest = 8;
  ExecutedActionMetadata execution_metadata = 9;
  repeated OutputSymlink output_file_symlinks = 10;
  repeated OutputSymlink output_directory_symlinks = 11;
  repeated OutputSymlink output_symlinks = 12;
}
message OutputFile { string path = 1; Digest digest = 2; bool is_executable = 4; bytes contents = 5; }
message Tree { Directory root = 1; repeated Directory children = 2; }
message OutputDirectory { string path = 1; Digest tree_digest = 3; }
message OutputSymlink { string path = 1; string target = 2; }
message ExecuteRequest {
  string instance_name = 1;
  bool skip_cache_lookup = 3;
  Digest action_digest = 6;
}
message ExecuteResponse {
  ActionResult result = 1;
  bool cached_result = 2;
  google.rpc.Status status = 3;
  string message = 5;
}
message ExecuteOperationMetadata { int32 stage = 1; Digest action_digest = 2; }
message WaitExecutionRequest { string name = 1; }
message GetActionResultRequest {
  string instance_name = 1;
  Digest action_digest = 2;
  bool inline_stdout = 3;
  bool inline_stderr = 4;
  repeated string inline_output_files = 5;
}
message UpdateActionResultRequest { string instance_name = 1; Digest action_digest = 2; ActionResult action_result = 3; }
message FindMissingBlobsRequest { string instance_name = 1; repeated Digest blob_digests = 2; }
message FindMissingBlobsResponse { repeated Digest missing_blob_digests = 2; }
message BatchUpdateBlobsRequest {
  message Request { Digest digest = 1; bytes data = 2; }
  string instance_name = 1;
  repeated Request requests = 2;
}
message BatchUpdateBlobsResponse {
  message Response { Digest digest = 1; google.rpc.Status status = 2; }
  repeated Response responses = 1;
}
message BatchReadBlobsRequest { string instance_name = 1; repeated Digest digests = 2; }
message BatchReadBlobsResponse {
  message Response { Digest digest = 1; bytes data = 2; google.rpc.Status status = 3; }
  repeated Response responses = 1;
}
message GetCapabilitiesRequest { string instance_name = 1; }
message ServerCapabilities {
  CacheCapabilities cache_capabilities = 1;
  ExecutionCapabilities execution_capabilities = 2;
  build.bazel.semver.SemVer deprecated_api_version = 3;
  build.bazel.semver.SemVer low_api_version = 4;
  build.bazel.semver.SemVer high_api_version = 5;
}
message ActionCacheUpdateCapabilities { bool update_enabled = 1; }
message CacheCapabilities {
  repeated int32 digest_functions = 1;
  ActionCacheUpdateCapabilities action_cache_update_capabilities = 2;
  int64 max_batch_total_size_bytes = 4;
  int32 symlink_absolute_path_strategy = 5;
  repeated int32 supported_compressors = 6;
  repeated int32 supported_batch_update_compressors = 7;
}
message ExecutionCapabilities { int32 digest_function = 1; bool exec_enabled = 2; }
`;

let parsed: protobuf.Root | undefined;

/** Parsed on first use: a build without a gRPC cache never pays for it. */
function schema(): protobuf.Root {
  if (!parsed) {
    parsed = new protobuf.Root();
    for (const text of [SCHEMA, RPC, LONGRUNNING, BYTESTREAM, SEMVER, REAPI]) protobuf.parse(text, parsed, { keepCase: true });
    parsed.resolveAll();
  }
  return parsed;
}

/** The spec's enums that hb reads or writes (REAPI declares them as enums; int32 on the wire alike). */
export const DIGEST_FUNCTION_SHA256 = 1;
export const SYMLINK_ABSOLUTE_PATH_DISALLOWED = 1;
export const COMPRESSOR_IDENTITY = 0;
export const STAGE_QUEUED = 2;
export const STAGE_EXECUTING = 3;
export const STAGE_COMPLETED = 4;

export interface Any {
  type_url: string;
  value: Buffer;
}
export interface Status {
  code: number;
  message: string;
  details: Any[];
}
export interface PreconditionFailure {
  violations: { type: string; subject: string; description: string }[];
}
export interface Timestamp {
  seconds: number;
  nanos: number;
}
export interface Operation {
  name: string;
  metadata: Any | null;
  done: boolean;
  error: Status | null;
  response: Any | null;
}
export interface ReadRequest {
  resource_name: string;
  read_offset: number;
  read_limit: number;
}
export interface ReadResponse {
  data: Buffer;
}
export interface WriteRequest {
  resource_name: string;
  write_offset: number;
  finish_write: boolean;
  data: Buffer;
}
export interface WriteResponse {
  committed_size: number;
}
export interface QueryWriteStatusRequest {
  resource_name: string;
}
export interface QueryWriteStatusResponse {
  committed_size: number;
  complete: boolean;
}
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string;
}
export interface Digest {
  hash: string;
  size_bytes: number;
}
export interface Property {
  name: string;
  value: string;
}
export interface Platform {
  properties: Property[];
}
export interface Action {
  command_digest: Digest | null;
  input_root_digest: Digest | null;
  timeout: { seconds: number; nanos: number } | null;
  do_not_cache: boolean;
  salt: Buffer;
  platform: Platform | null;
}
export interface Command {
  arguments: string[];
  environment_variables: Property[];
  output_files: string[];
  output_directories: string[];
  platform: Platform | null;
  working_directory: string;
  output_paths: string[];
}
export interface FileNode {
  name: string;
  digest: Digest | null;
  is_executable: boolean;
}
export interface DirectoryNode {
  name: string;
  digest: Digest | null;
}
export interface SymlinkNode {
  name: string;
  target: string;
}
export interface Directory {
  files: FileNode[];
  directories: DirectoryNode[];
  symlinks: SymlinkNode[];
}
export interface ExecutedActionMetadata {
  worker: string;
  queued_timestamp: Timestamp | null;
  worker_start_timestamp: Timestamp | null;
  worker_completed_timestamp: Timestamp | null;
  execution_start_timestamp: Timestamp | null;
  execution_completed_timestamp: Timestamp | null;
  auxiliary_metadata: Any[];
}
export interface OutputFile {
  path: string;
  digest: Digest | null;
  is_executable: boolean;
  contents: Buffer;
}
export interface OutputDirectory {
  path: string;
  tree_digest: Digest | null;
}
export interface OutputSymlink {
  path: string;
  target: string;
}
export interface ActionResult {
  output_files: OutputFile[];
  output_directories: OutputDirectory[];
  exit_code: number;
  stdout_raw: Buffer;
  stdout_digest: Digest | null;
  stderr_raw: Buffer;
  stderr_digest: Digest | null;
  execution_metadata: ExecutedActionMetadata | null;
  output_file_symlinks: OutputSymlink[];
  output_directory_symlinks: OutputSymlink[];
  output_symlinks: OutputSymlink[];
}
export interface Tree {
  root: Directory | null;
  children: Directory[];
}
export interface ExecuteRequest {
  instance_name: string;
  skip_cache_lookup: boolean;
  action_digest: Digest | null;
}
export interface ExecuteResponse {
  result: ActionResult | null;
  cached_result: boolean;
  status: Status | null;
  message: string;
}
export interface ExecuteOperationMetadata {
  stage: number;
  action_digest: Digest | null;
}
export interface WaitExecutionRequest {
  name: string;
}
export interface GetActionResultRequest {
  instance_name: string;
  action_digest: Digest | null;
  inline_stdout: boolean;
  inline_stderr: boolean;
  inline_output_files: string[];
}
export interface UpdateActionResultRequest {
  instance_name: string;
  action_digest: Digest | null;
  action_result: ActionResult | null;
}
export interface FindMissingBlobsRequest {
  instance_name: string;
  blob_digests: Digest[];
}
export interface FindMissingBlobsResponse {
  missing_blob_digests: Digest[];
}
export interface BatchUpdateBlobsRequest {
  instance_name: string;
  requests: { digest: Digest | null; data: Buffer }[];
}
export interface BatchUpdateBlobsResponse {
  responses: { digest: Digest | null; status: Status | null }[];
}
export interface BatchReadBlobsRequest {
  instance_name: string;
  digests: Digest[];
}
export interface BatchReadBlobsResponse {
  responses: { digest: Digest | null; data: Buffer; status: Status | null }[];
}
export interface GetCapabilitiesRequest {
  instance_name: string;
}
export interface CacheCapabilities {
  digest_functions: number[];
  action_cache_update_capabilities: { update_enabled: boolean } | null;
  max_batch_total_size_bytes: number;
  symlink_absolute_path_strategy: number;
  supported_compressors: number[];
  supported_batch_update_compressors: number[];
}
export interface ExecutionCapabilities {
  digest_function: number;
  exec_enabled: boolean;
}
export interface ServerCapabilities {
  cache_capabilities: CacheCapabilities | null;
  execution_capabilities: ExecutionCapabilities | null;
  deprecated_api_version: SemVer | null;
  low_api_version: SemVer | null;
  high_api_version: SemVer | null;
}

/** Each message hb uses, by its full name. */
export interface Messages {
  "google.protobuf.Any": Any;
  "google.rpc.Status": Status;
  "google.rpc.PreconditionFailure": PreconditionFailure;
  "google.longrunning.Operation": Operation;
  "google.bytestream.ReadRequest": ReadRequest;
  "google.bytestream.ReadResponse": ReadResponse;
  "google.bytestream.WriteRequest": WriteRequest;
  "google.bytestream.WriteResponse": WriteResponse;
  "google.bytestream.QueryWriteStatusRequest": QueryWriteStatusRequest;
  "google.bytestream.QueryWriteStatusResponse": QueryWriteStatusResponse;
  "build.bazel.remote.execution.v2.Digest": Digest;
  "build.bazel.remote.execution.v2.Action": Action;
  "build.bazel.remote.execution.v2.Command": Command;
  "build.bazel.remote.execution.v2.Directory": Directory;
  "build.bazel.remote.execution.v2.ActionResult": ActionResult;
  "build.bazel.remote.execution.v2.Tree": Tree;
  "build.bazel.remote.execution.v2.ExecuteRequest": ExecuteRequest;
  "build.bazel.remote.execution.v2.ExecuteResponse": ExecuteResponse;
  "build.bazel.remote.execution.v2.ExecuteOperationMetadata": ExecuteOperationMetadata;
  "build.bazel.remote.execution.v2.WaitExecutionRequest": WaitExecutionRequest;
  "build.bazel.remote.execution.v2.GetActionResultRequest": GetActionResultRequest;
  "build.bazel.remote.execution.v2.UpdateActionResultRequest": UpdateActionResultRequest;
  "build.bazel.remote.execution.v2.FindMissingBlobsRequest": FindMissingBlobsRequest;
  "build.bazel.remote.execution.v2.FindMissingBlobsResponse": FindMissingBlobsResponse;
  "build.bazel.remote.execution.v2.BatchUpdateBlobsRequest": BatchUpdateBlobsRequest;
  "build.bazel.remote.execution.v2.BatchUpdateBlobsResponse": BatchUpdateBlobsResponse;
  "build.bazel.remote.execution.v2.BatchReadBlobsRequest": BatchReadBlobsRequest;
  "build.bazel.remote.execution.v2.BatchReadBlobsResponse": BatchReadBlobsResponse;
  "build.bazel.remote.execution.v2.GetCapabilitiesRequest": GetCapabilitiesRequest;
  "build.bazel.remote.execution.v2.ServerCapabilities": ServerCapabilities;
}
export type MessageName = keyof Messages;

/** A message as the caller fills it: every field may be left out (proto3: absent is the default). */
export type Input<T> = { [K in keyof T]?: T[K] extends (infer E)[] ? Input<E>[] : T[K] extends Buffer ? T[K] : Input<T[K]> };

function type(name: MessageName): protobuf.Type {
  return schema().lookupType(name);
}

/**
 * Encodes a message. Fields at their default are left out and fields in field-number order,
 * so equal messages encode to equal bytes (a Directory's or an Action's digest depends on it).
 */
export function encode<N extends MessageName>(name: N, value: Input<Messages[N]>): Buffer {
  const t = type(name);
  return Buffer.from(t.encode(t.fromObject(value as Record<string, unknown>)).finish());
}

/** Decodes a message with every field present (defaults filled in; absent messages null). Throws on malformed bytes. */
export function decode<N extends MessageName>(name: N, bytes: Uint8Array): Messages[N] {
  const t = type(name);
  return t.toObject(t.decode(bytes), { longs: Number, enums: Number, bytes: Buffer, defaults: true, arrays: true }) as Messages[N];
}

/** An Any holding `value` as message `name`. */
export function pack<N extends MessageName>(name: N, value: Input<Messages[N]>): Any {
  return { type_url: `type.googleapis.com/${name}`, value: encode(name, value) };
}

/** The message in an Any, when it holds one of type `name`. */
export function unpack<N extends MessageName>(name: N, any: Any | null): Messages[N] | undefined {
  if (!any || any.type_url.slice(any.type_url.lastIndexOf("/") + 1) !== name) return undefined;
  return decode(name, any.value);
}

/** The schema itself, for the test that checks it against the reference .proto files. */
export function schemaRoot(): protobuf.Root {
  return schema();
}
