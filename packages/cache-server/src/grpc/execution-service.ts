import { randomUUID } from "node:crypto";
import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { SHA256_HEX } from "@hb/core/engine";
import {
  type ExecuteRequest,
  type ExecuteResponse,
  type Input,
  type Operation,
  STAGE_COMPLETED,
  STAGE_EXECUTING,
  STAGE_QUEUED,
  type WaitExecutionRequest,
  decode,
  encode,
  pack,
} from "@hb/core/reapi";
import type { GrpcContext } from "./cache-services";
import { resultBlobs } from "./cache-services";
import { MissingBlob, type CommandRunner } from "./run-command";
import { failStream, grpcError, refusal } from "./status";

/** How long a finished operation can still be waited on (a client reconnecting after a dropped stream). */
const KEEP_FINISHED_MS = 10 * 60_000;
/** An Action without a timeout gets this one. */
const DEFAULT_TIMEOUT_MS = 15 * 60_000;

interface Execution {
  name: string;
  instance: string;
  actionDigest: { hash: string; size_bytes: number };
  stage: number;
  response?: Input<ExecuteResponse>;
  watchers: Set<(op: Input<Operation>) => void>;
}

function precondition(missing: { hash: string; size_bytes: number }[]): Input<ExecuteResponse> {
  return {
    status: {
      code: status.FAILED_PRECONDITION,
      message: `${missing.length} blobs the action needs are not in the CAS`,
      details: [
        pack("google.rpc.PreconditionFailure", {
          violations: missing.map((d) => ({ type: "MISSING", subject: `blobs/${d.hash}/${d.size_bytes}` })),
        }),
      ],
    },
  };
}

/**
 * REAPI's Execution service: each Execute becomes an operation run by one of `workers` slots in
 * hb's sandbox; its stream carries the stages and ends with the ExecuteResponse. A client whose
 * stream dropped asks again with WaitExecution, by the operation's name.
 */
export function executionService(ctx: GrpcContext, runner: CommandRunner, workers: number): UntypedServiceImplementation {
  const executions = new Map<string, Execution>();
  const queue: (() => Promise<void>)[] = [];
  let running = 0;
  const stopping = new AbortController();

  const operation = (e: Execution): Input<Operation> => ({
    name: e.name,
    metadata: pack("build.bazel.remote.execution.v2.ExecuteOperationMetadata", { stage: e.stage, action_digest: e.actionDigest }),
    done: e.response !== undefined,
    ...(e.response ? { response: pack("build.bazel.remote.execution.v2.ExecuteResponse", e.response) } : {}),
  });
  const update = (e: Execution) => {
    for (const w of e.watchers) w(operation(e));
  };
  const finish = (e: Execution, response: Input<ExecuteResponse>) => {
    e.stage = STAGE_COMPLETED;
    e.response = response;
    update(e);
    setTimeout(() => executions.delete(e.name), KEEP_FINISHED_MS).unref();
  };
  const pump = () => {
    while (running < workers && queue.length > 0) {
      running++;
      void queue.shift()!().finally(() => {
        running--;
        pump();
      });
    }
  };

  const run = async (e: Execution, instance: string, req: ExecuteRequest): Promise<void> => {
    const { blobs } = ctx;
    const actionBytes = await blobs.read(instance, e.actionDigest);
    if (!actionBytes) return finish(e, precondition([e.actionDigest]));
    const action = decode("build.bazel.remote.execution.v2.Action", actionBytes);
    if (!action.command_digest || !action.input_root_digest)
      return finish(e, { status: { code: status.INVALID_ARGUMENT, message: "the Action names no Command or input root" } });
    if (!req.skip_cache_lookup && !action.do_not_cache) {
      const cached = await blobs.readEntry(instance, e.actionDigest.hash);
      if (cached) {
        const result = decode("build.bazel.remote.execution.v2.ActionResult", cached);
        if (resultBlobs(result).every((d) => blobs.has(instance, d))) return finish(e, { result, cached_result: true });
      }
    }
    const commandBytes = await blobs.read(instance, action.command_digest);
    if (!commandBytes) return finish(e, precondition([action.command_digest]));
    const command = decode("build.bazel.remote.execution.v2.Command", commandBytes);
    e.stage = STAGE_EXECUTING;
    update(e);
    const timeoutMs = action.timeout && action.timeout.seconds > 0 ? action.timeout.seconds * 1000 : DEFAULT_TIMEOUT_MS;
    try {
      const result = await runner.run(instance, command, action.input_root_digest, timeoutMs, stopping.signal);
      if (result.exit_code === 0 && !action.do_not_cache)
        blobs.putEntry(instance, e.actionDigest.hash, encode("build.bazel.remote.execution.v2.ActionResult", result));
      finish(e, { result });
    } catch (err) {
      if (err instanceof MissingBlob) return finish(e, precondition([err.digest]));
      finish(e, { status: { code: status.INTERNAL, message: (err as Error).message } });
    }
  };

  const watch = (call: ServerWritableStream<unknown, Input<Operation>>, e: Execution) => {
    const send = (op: Input<Operation>) => {
      call.write(op);
      if (op.done) {
        e.watchers.delete(send);
        call.end();
      }
    };
    e.watchers.add(send);
    call.on("cancelled", () => e.watchers.delete(send));
    send(operation(e));
  };

  return {
    Execute(call: ServerWritableStream<ExecuteRequest, Input<Operation>>) {
      const req = call.request;
      const no = refusal(ctx.policy(), call.metadata, "write", req.instance_name);
      if (no) return failStream(call, no);
      const d = req.action_digest;
      if (!d || !SHA256_HEX.test(d.hash) || !Number.isSafeInteger(d.size_bytes) || d.size_bytes < 0)
        return failStream(call, grpcError(status.INVALID_ARGUMENT, "action_digest is not a sha256 digest"));
      const e: Execution = {
        name: `operations/${randomUUID()}`,
        instance: req.instance_name,
        actionDigest: d,
        stage: STAGE_QUEUED,
        watchers: new Set(),
      };
      executions.set(e.name, e);
      watch(call, e);
      queue.push(() => run(e, req.instance_name, req));
      pump();
    },
    WaitExecution(call: ServerWritableStream<WaitExecutionRequest, Input<Operation>>) {
      const e = executions.get(call.request.name);
      if (!e) return failStream(call, grpcError(status.NOT_FOUND, `no operation ${call.request.name}`));
      const no = refusal(ctx.policy(), call.metadata, "write", e.instance);
      if (no) return failStream(call, no);
      watch(call, e);
    },
  };
}
