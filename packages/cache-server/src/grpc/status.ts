import { Metadata, type ServerWritableStream, type ServiceError, status } from "@grpc/grpc-js";
import { authenticate, permits } from "../auth/access";
import type { AccessPolicy, Scope } from "../auth/policy";
import { isInstanceName } from "../protocol/instance";

export function grpcError(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/**
 * Ends a server stream (Execute, WaitExecution, ByteStream Read) with `e` as its status. grpc-js
 * sends the status on "error"; destroy(e) closes the stream without any, and the client waits
 * for ever (or until its deadline) for an answer.
 */
export function failStream(call: ServerWritableStream<unknown, unknown>, e: ServiceError): void {
  call.emit("error", e);
}

/**
 * Whether the call's credentials (`authorization` metadata, as over HTTP) may do `scope` on
 * `instance`; the error to answer otherwise. Instance names are those the HTTP side accepts.
 */
export function refusal(policy: AccessPolicy, metadata: Metadata, scope: Scope, instance: string): ServiceError | undefined {
  if (instance !== "" && !isInstanceName(instance))
    return grpcError(status.INVALID_ARGUMENT, `instance name '${instance}' may hold only letters, digits, '.', '_' and '-'`);
  const header = metadata.get("authorization")[0];
  const auth = authenticate(policy, typeof header === "string" ? header : undefined);
  if (!auth.ok) return grpcError(status.UNAUTHENTICATED, auth.message);
  if (!permits(policy, auth.identity, scope, instance))
    return grpcError(
      auth.identity.kind === "anonymous" ? status.UNAUTHENTICATED : status.PERMISSION_DENIED,
      `${scope} access to instance '${instance}' needs a token with that scope`,
    );
  return undefined;
}
