import { createHash } from "node:crypto";
import { type WriteStream, createWriteStream, rmSync } from "node:fs";
import type {
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedServiceImplementation,
  sendUnaryData,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { SHA256_HEX } from "@hb/core/engine";
import {
  type ActionResult,
  COMPRESSOR_IDENTITY,
  DIGEST_FUNCTION_SHA256,
  type Digest,
  type Messages,
  SYMLINK_ABSOLUTE_PATH_DISALLOWED,
  decode,
  encode,
} from "@hb/core/reapi";
import type { AccessPolicy } from "../auth/policy";
import { type TrustedKeys, keysFor } from "../auth/trusted-keys";
import type { RefusalReason } from "../http/refusal";
import { type BlobDigest, type GrpcBlobs, isEmpty } from "./blobs";
import { resultTrust } from "./result-trust";
import { failStream, grpcError, refusal } from "./status";

type V2 = "build.bazel.remote.execution.v2.";
type Msg<N extends string> = N extends keyof Messages ? Messages[N] : never;

/** Batch requests and responses stay under gRPC's usual 4 MiB message limit, with room for framing. */
export const MAX_BATCH_BYTES = 4 * 2 ** 20 - 64 * 1024;

export interface GrpcContext {
  blobs: GrpcBlobs;
  policy(): AccessPolicy;
  /** the keys hb entries must be signed with, per instance (--trusted-keys-file), as now */
  trustedKeys(): TrustedKeys | undefined;
  /** an update refused for its entry's trust, counted in /metrics like the HTTP side's */
  refused(reason: RefusalReason): void;
  /** whether Execute is served (a worker count was given) */
  execution: boolean;
}

function validDigest(d: Digest | null): d is BlobDigest {
  return d !== null && SHA256_HEX.test(d.hash) && Number.isSafeInteger(d.size_bytes) && d.size_bytes >= 0;
}

/** The CAS blobs an ActionResult names: what must be stored before it may be. */
export function resultBlobs(r: ActionResult): Digest[] {
  return [
    ...r.output_files.flatMap((f) => (f.digest ? [f.digest] : [])),
    ...r.output_directories.flatMap((d) => (d.tree_digest ? [d.tree_digest] : [])),
    ...(r.stdout_digest ? [r.stdout_digest] : []),
    ...(r.stderr_digest ? [r.stderr_digest] : []),
  ];
}

/** Capabilities, ContentAddressableStorage, ActionCache and ByteStream over one store. */
export function cacheServices(ctx: GrpcContext): Record<string, UntypedServiceImplementation> {
  const { blobs } = ctx;
  const denied = (call: { metadata: ServerUnaryCall<unknown, unknown>["metadata"] }, scope: "read" | "write", instance: string) =>
    refusal(ctx.policy(), call.metadata, scope, instance);

  const capabilities = {
    GetCapabilities(
      call: ServerUnaryCall<Msg<`${V2}GetCapabilitiesRequest`>, unknown>,
      done: sendUnaryData<Msg<`${V2}ServerCapabilities`>>,
    ) {
      const no = denied(call, "read", call.request.instance_name);
      if (no) return done(no);
      const version = { major: 2, minor: 0, patch: 0, prerelease: "" };
      done(null, {
        cache_capabilities: {
          digest_functions: [DIGEST_FUNCTION_SHA256],
          action_cache_update_capabilities: { update_enabled: true },
          max_batch_total_size_bytes: MAX_BATCH_BYTES,
          symlink_absolute_path_strategy: SYMLINK_ABSOLUTE_PATH_DISALLOWED,
          supported_compressors: [COMPRESSOR_IDENTITY],
          supported_batch_update_compressors: [COMPRESSOR_IDENTITY],
        },
        execution_capabilities: ctx.execution ? { digest_function: DIGEST_FUNCTION_SHA256, exec_enabled: true } : null,
        deprecated_api_version: null,
        low_api_version: version,
        high_api_version: { ...version, minor: 1 },
      });
    },
  };

  const cas = {
    FindMissingBlobs(
      call: ServerUnaryCall<Msg<`${V2}FindMissingBlobsRequest`>, unknown>,
      done: sendUnaryData<Msg<`${V2}FindMissingBlobsResponse`>>,
    ) {
      const { instance_name: instance, blob_digests } = call.request;
      const no = denied(call, "read", instance);
      if (no) return done(no);
      if (!blob_digests.every(validDigest)) return done(grpcError(status.INVALID_ARGUMENT, "a digest is not a sha256 with a size"));
      done(null, { missing_blob_digests: blob_digests.filter((d) => !blobs.has(instance, d)) });
    },
    BatchUpdateBlobs(
      call: ServerUnaryCall<Msg<`${V2}BatchUpdateBlobsRequest`>, unknown>,
      done: sendUnaryData<Msg<`${V2}BatchUpdateBlobsResponse`>>,
    ) {
      const { instance_name: instance, requests } = call.request;
      const no = denied(call, "write", instance);
      if (no) return done(no);
      done(null, {
        responses: requests.map((r) => {
          if (!validDigest(r.digest))
            return { digest: r.digest, status: { code: status.INVALID_ARGUMENT, message: "not a sha256 digest", details: [] } };
          const ok = blobs.put(instance, r.digest, r.data);
          return {
            digest: r.digest,
            status: ok
              ? { code: status.OK, message: "", details: [] }
              : { code: status.INVALID_ARGUMENT, message: "the data does not hash to the digest", details: [] },
          };
        }),
      });
    },
    async BatchReadBlobs(
      call: ServerUnaryCall<Msg<`${V2}BatchReadBlobsRequest`>, unknown>,
      done: sendUnaryData<Msg<`${V2}BatchReadBlobsResponse`>>,
    ) {
      const { instance_name: instance, digests } = call.request;
      const no = denied(call, "read", instance);
      if (no) return done(no);
      if (!digests.every(validDigest)) return done(grpcError(status.INVALID_ARGUMENT, "a digest is not a sha256 with a size"));
      if (digests.reduce((n, d) => n + d.size_bytes, 0) > MAX_BATCH_BYTES)
        return done(grpcError(status.INVALID_ARGUMENT, `the blobs are over the batch limit of ${MAX_BATCH_BYTES} bytes: use ByteStream`));
      const responses = [];
      for (const d of digests) {
        const data = await blobs.read(instance, d);
        responses.push(
          data
            ? { digest: d, data, status: { code: status.OK, message: "", details: [] } }
            : { digest: d, data: Buffer.alloc(0), status: { code: status.NOT_FOUND, message: "not in the CAS", details: [] } },
        );
      }
      done(null, { responses });
    },
  };

  const actionCache = {
    async GetActionResult(call: ServerUnaryCall<Msg<`${V2}GetActionResultRequest`>, unknown>, done: sendUnaryData<ActionResult>) {
      const { instance_name: instance, action_digest } = call.request;
      const no = denied(call, "read", instance);
      if (no) return done(no);
      if (!validDigest(action_digest)) return done(grpcError(status.INVALID_ARGUMENT, "action_digest is not a sha256 digest"));
      const bytes = await blobs.readEntry(instance, action_digest.hash);
      if (!bytes) return done(grpcError(status.NOT_FOUND, "no result for this action"));
      const result = decode("build.bazel.remote.execution.v2.ActionResult", bytes);
      // a result whose outputs were evicted since is no result (REAPI: the server should not return it)
      if (!resultBlobs(result).every((d) => validDigest(d) && blobs.has(instance, d)))
        return done(grpcError(status.NOT_FOUND, "the result's outputs are no longer stored"));
      done(null, result);
    },
    async UpdateActionResult(call: ServerUnaryCall<Msg<`${V2}UpdateActionResultRequest`>, unknown>, done: sendUnaryData<ActionResult>) {
      const { instance_name: instance, action_digest, action_result } = call.request;
      const no = denied(call, "write", instance);
      if (no) return done(no);
      if (!validDigest(action_digest) || !action_result)
        return done(grpcError(status.INVALID_ARGUMENT, "an action digest and a result are needed"));
      const missing = resultBlobs(action_result).filter((d) => !validDigest(d) || !blobs.has(instance, d));
      if (missing.length > 0)
        return done(
          grpcError(
            status.FAILED_PRECONDITION,
            `the result names ${missing.length} blobs not in the CAS (first: ${missing[0]!.hash}/${missing[0]!.size_bytes}): upload outputs before their result`,
          ),
        );
      // as over HTTP: on an instance with trusted keys only a result every client would use is
      // stored, so a token holder with another key cannot displace a good one
      const keys = keysFor(ctx.trustedKeys(), instance);
      if (keys) {
        const trust = await resultTrust(action_result, action_digest, instance, blobs, keys);
        if (!trust.trusted) {
          ctx.refused(trust.reason);
          const e = grpcError(status.PERMISSION_DENIED, `instance "${instance}" refuses this result: ${trust.message}`);
          // the reason as a label, as the HTTP side's X-Hb-Refusal header: hb's client counts it
          e.metadata.set("x-hb-refusal", trust.reason);
          return done(e);
        }
      }
      blobs.putEntry(instance, action_digest.hash, encode("build.bazel.remote.execution.v2.ActionResult", action_result));
      done(null, action_result);
    },
  };

  const byteStream = {
    async Read(call: ServerWritableStream<Msg<"google.bytestream.ReadRequest">, Msg<"google.bytestream.ReadResponse">>) {
      const { resource_name, read_offset, read_limit } = call.request;
      const parsed = parseResource(resource_name, "read");
      if (!parsed) return failStream(call, grpcError(status.INVALID_ARGUMENT, `'${resource_name}' is not {instance}/blobs/{hash}/{size}`));
      const no = denied(call, "read", parsed.instance);
      if (no) return failStream(call, no);
      if (read_offset < 0 || read_offset > parsed.digest.size_bytes || read_limit < 0)
        return failStream(call, grpcError(status.OUT_OF_RANGE, "read_offset is past the blob's end"));
      let sent = 0;
      const limit = read_limit > 0 ? read_limit : Infinity;
      for await (const chunk of blobs.stream(parsed.instance, parsed.digest, read_offset)) {
        if (chunk === undefined)
          return failStream(
            call,
            grpcError(sent === 0 ? status.NOT_FOUND : status.DATA_LOSS, `blob ${parsed.digest.hash}/${parsed.digest.size_bytes}`),
          );
        for (let at = 0; at < chunk.length && sent < limit; at += 64 * 1024) {
          const piece = chunk.subarray(at, Math.min(chunk.length, at + 64 * 1024, at + limit - sent));
          sent += piece.length;
          if (!call.write({ data: piece })) await new Promise((r) => call.once("drain", r));
        }
        if (call.cancelled) return;
      }
      call.end();
    },
    Write(
      call: ServerReadableStream<Msg<"google.bytestream.WriteRequest">, unknown>,
      done: sendUnaryData<Msg<"google.bytestream.WriteResponse">>,
    ) {
      let target: { instance: string; digest: BlobDigest } | undefined;
      let file: WriteStream | undefined;
      let tmp = "";
      let size = 0;
      let finished = false;
      const hash = createHash("sha256");
      const fail = (e: ReturnType<typeof grpcError>) => {
        if (finished) return;
        finished = true;
        file?.destroy();
        if (tmp) rmSync(tmp, { force: true });
        done(e);
      };
      call.on("data", (req: Msg<"google.bytestream.WriteRequest">) => {
        if (finished) return;
        if (!target) {
          const parsed = parseResource(req.resource_name, "write");
          if (!parsed)
            return fail(grpcError(status.INVALID_ARGUMENT, `'${req.resource_name}' is not {instance}/uploads/{uuid}/blobs/{hash}/{size}`));
          const no = denied(call, "write", parsed.instance);
          if (no) return fail(no);
          target = parsed;
          tmp = blobs.store.tempPath();
          file = createWriteStream(tmp, { mode: 0o444 });
        }
        if (req.write_offset !== size)
          return fail(grpcError(status.INVALID_ARGUMENT, `write_offset ${req.write_offset}, expected ${size}`));
        hash.update(req.data);
        size += req.data.length;
        if (size > target.digest.size_bytes) return fail(grpcError(status.INVALID_ARGUMENT, "more bytes than the digest's size"));
        file!.write(req.data);
        if (!req.finish_write) return;
        finished = true;
        const t = target;
        file!.end(() => {
          if (size !== t.digest.size_bytes || hash.digest("hex") !== t.digest.hash) {
            rmSync(tmp, { force: true });
            return done(grpcError(status.INVALID_ARGUMENT, "the bytes written do not hash to the resource's digest"));
          }
          if (isEmpty(t.digest) || blobs.has(t.instance, t.digest)) rmSync(tmp, { force: true });
          else blobs.adopt(t.instance, tmp, t.digest.hash, size);
          done(null, { committed_size: size });
        });
      });
      call.on("end", () => {
        if (!finished) fail(grpcError(status.INVALID_ARGUMENT, "the stream ended without finish_write"));
      });
      call.on("error", () => fail(grpcError(status.CANCELLED, "the client went away")));
    },
    QueryWriteStatus(
      call: ServerUnaryCall<Msg<"google.bytestream.QueryWriteStatusRequest">, unknown>,
      done: sendUnaryData<Msg<"google.bytestream.QueryWriteStatusResponse">>,
    ) {
      const parsed = parseResource(call.request.resource_name, "write");
      if (!parsed) return done(grpcError(status.INVALID_ARGUMENT, "not an upload resource name"));
      const no = denied(call, "read", parsed.instance);
      if (no) return done(no);
      // uploads are not resumed: a blob is there whole, or not at all
      const complete = blobs.has(parsed.instance, parsed.digest);
      done(null, { committed_size: complete ? parsed.digest.size_bytes : 0, complete });
    },
  };

  return { capabilities, cas, actionCache, byteStream };
}

/** `[{instance}/]blobs/{hash}/{size}` (read) or `[{instance}/]uploads/{uuid}/blobs/{hash}/{size}[/...]` (write). */
export function parseResource(name: string, kind: "read" | "write"): { instance: string; digest: BlobDigest } | undefined {
  const parts = name.split("/");
  const at = kind === "read" ? parts.lastIndexOf("blobs") : parts.indexOf("uploads");
  if (at < 0) return undefined;
  const rest = kind === "read" ? parts.slice(at) : parts.slice(at + 2);
  if (kind === "write" && parts[at + 1] === undefined) return undefined;
  if (rest[0] !== "blobs" || rest.length < 3 || (kind === "read" && rest.length !== 3)) return undefined;
  const [, hash, sizeText] = rest;
  if (!SHA256_HEX.test(hash!) || !/^\d+$/.test(sizeText!) || !Number.isSafeInteger(Number(sizeText))) return undefined;
  return { instance: parts.slice(0, at).join("/"), digest: { hash: hash!, size_bytes: Number(sizeText) } };
}
