import type { MethodDefinition } from "@grpc/grpc-js";
import { type Input, type MessageName, type Messages, decode, encode } from "./proto";

// The gRPC methods of REAPI v2 and ByteStream as grpc-js wants them described: a path and how
// each side's messages are (de)serialized. The client and hb's server share them.

export interface Method<Req extends MessageName, Res extends MessageName> extends MethodDefinition<Messages[Req], Messages[Res]> {
  readonly path: string;
}

function method<Req extends MessageName, Res extends MessageName>(
  service: string,
  name: string,
  req: Req,
  res: Res,
  stream: { request?: boolean; response?: boolean } = {},
): Method<Req, Res> {
  return {
    path: `/${service}/${name}`,
    requestStream: stream.request === true,
    responseStream: stream.response === true,
    requestSerialize: (m) => encode(req, m as Input<Messages[Req]>),
    requestDeserialize: (b) => decode(req, b),
    responseSerialize: (m) => encode(res, m as Input<Messages[Res]>),
    responseDeserialize: (b) => decode(res, b),
  };
}

const V2 = "build.bazel.remote.execution.v2";
const T = `${V2}.` as const;

export const CapabilitiesService = {
  GetCapabilities: method(`${V2}.Capabilities`, "GetCapabilities", `${T}GetCapabilitiesRequest`, `${T}ServerCapabilities`),
};

export const CasService = {
  FindMissingBlobs: method(
    `${V2}.ContentAddressableStorage`,
    "FindMissingBlobs",
    `${T}FindMissingBlobsRequest`,
    `${T}FindMissingBlobsResponse`,
  ),
  BatchUpdateBlobs: method(
    `${V2}.ContentAddressableStorage`,
    "BatchUpdateBlobs",
    `${T}BatchUpdateBlobsRequest`,
    `${T}BatchUpdateBlobsResponse`,
  ),
  BatchReadBlobs: method(`${V2}.ContentAddressableStorage`, "BatchReadBlobs", `${T}BatchReadBlobsRequest`, `${T}BatchReadBlobsResponse`),
};

export const ActionCacheService = {
  GetActionResult: method(`${V2}.ActionCache`, "GetActionResult", `${T}GetActionResultRequest`, `${T}ActionResult`),
  UpdateActionResult: method(`${V2}.ActionCache`, "UpdateActionResult", `${T}UpdateActionResultRequest`, `${T}ActionResult`),
};

export const ExecutionService = {
  Execute: method(`${V2}.Execution`, "Execute", `${T}ExecuteRequest`, "google.longrunning.Operation", { response: true }),
  WaitExecution: method(`${V2}.Execution`, "WaitExecution", `${T}WaitExecutionRequest`, "google.longrunning.Operation", {
    response: true,
  }),
};

export const ByteStreamService = {
  Read: method("google.bytestream.ByteStream", "Read", "google.bytestream.ReadRequest", "google.bytestream.ReadResponse", {
    response: true,
  }),
  Write: method("google.bytestream.ByteStream", "Write", "google.bytestream.WriteRequest", "google.bytestream.WriteResponse", {
    request: true,
  }),
  QueryWriteStatus: method(
    "google.bytestream.ByteStream",
    "QueryWriteStatus",
    "google.bytestream.QueryWriteStatusRequest",
    "google.bytestream.QueryWriteStatusResponse",
  ),
};

/** ByteStream resource names (REAPI v2, "Overview of the ByteStream API"): `{instance}/blobs/{hash}/{size}` to read. */
export function readResourceName(instance: string, d: { hash: string; size_bytes: number }): string {
  return `${instance ? `${instance}/` : ""}blobs/${d.hash}/${d.size_bytes}`;
}

/** `{instance}/uploads/{uuid}/blobs/{hash}/{size}` to write. */
export function writeResourceName(instance: string, uuid: string, d: { hash: string; size_bytes: number }): string {
  return `${instance ? `${instance}/` : ""}uploads/${uuid}/blobs/${d.hash}/${d.size_bytes}`;
}
