// hb's server ends a stream it cannot serve (Execute, WaitExecution, ByteStream Read) with its
// status at once: a client is not left waiting for an answer that never comes.
import { Client, Metadata, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { ByteStreamService, ExecutionService, readResourceName } from "@hb/core/reapi";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type TestServer, removeTempDirs, startTestServer } from "../testing/server";

let server: TestServer;
let client: Client;
beforeAll(async () => {
  server = await startTestServer({ grpcPort: 0, workers: 1 });
  client = new Client(server.server.grpcUrl!.replace("grpc://", ""), credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await server.stop();
  removeTempDirs();
});

/** The status a server stream ends with, and how long it took (under a 5 s deadline). */
function ending(m: { path: string; requestSerialize: (v: never) => Buffer }, req: object): Promise<{ code: status; ms: number }> {
  const started = Date.now();
  const serialize = m.requestSerialize as (v: object) => Buffer;
  const call = client.makeServerStreamRequest(m.path, serialize, (b: Buffer) => b, req, new Metadata(), { deadline: started + 5000 });
  return new Promise((resolve) => {
    call.on("data", () => {});
    call.on("error", (e: ServiceError) => resolve({ code: e.code, ms: Date.now() - started }));
    call.on("end", () => resolve({ code: status.OK, ms: Date.now() - started }));
  });
}

const missing = { hash: "a".repeat(64), size_bytes: 10 };

it.each([
  ["WaitExecution of an operation it does not know", ExecutionService.WaitExecution, { name: "operations/unknown" }, status.NOT_FOUND],
  [
    "Execute of a digest that is not sha256",
    ExecutionService.Execute,
    { action_digest: { hash: "xyz", size_bytes: 1 } },
    status.INVALID_ARGUMENT,
  ],
  ["ByteStream Read of a blob it lacks", ByteStreamService.Read, { resource_name: readResourceName("", missing) }, status.NOT_FOUND],
  [
    "ByteStream Read past a blob's end",
    ByteStreamService.Read,
    { resource_name: readResourceName("", missing), read_offset: 11 },
    status.OUT_OF_RANGE,
  ],
])("%s ends with its status at once", async (_, m, req, code) => {
  const got = await ending(m, req);
  expect(got.code).toBe(code);
  expect(got.ms).toBeLessThan(2000);
});
