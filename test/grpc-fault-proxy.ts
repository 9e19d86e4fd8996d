import {
  Client,
  Metadata,
  type MethodDefinition,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type StatusObject,
  type UntypedServiceImplementation,
  credentials,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import {
  ActionCacheService,
  ByteStreamService,
  CapabilitiesService,
  CasService,
  ExecutionService,
} from "../packages/core/src/caching/remote/reapi/services";

// A gRPC proxy on 127.0.0.1 in front of a REAPI server that forwards every call's messages as raw
// bytes, by method path, and lets a test break what passes: answer a call with an error instead,
// rewrite a unary response, rewrite or cut a server stream after one of its messages. Every call
// is recorded in order, with its request (undefined for a client stream: ByteStream Write).

/** An error status to answer with (and trailers: grpc-status-details-bin, say). */
export interface Fault {
  code: status;
  details: string;
  metadata?: Metadata;
}

/** What a streamed message becomes: other bytes or none, and the stream cut after it (with an error, or "end": a clean end). */
export interface StreamFault {
  message?: Buffer;
  drop?: boolean;
  cut?: Fault | "end";
}

export interface FaultRules {
  /** Before a call is forwarded: an error to answer instead. `nth` counts this method's calls from 1. */
  refuse?(method: string, request: Buffer | undefined, nth: number): Fault | undefined | Promise<Fault | undefined>;
  /** A unary call's response on its way back: the bytes to send instead. */
  response?(method: string, response: Buffer, request: Buffer): Buffer | Promise<Buffer>;
  /** A server stream's message on its way back (`index` from 0): what to do with it; undefined forwards it. */
  streamed?(method: string, message: Buffer, request: Buffer, index: number): StreamFault | undefined | Promise<StreamFault | undefined>;
}

export interface RecordedCall {
  /** the method's name: Execute, FindMissingBlobs, Write, ... */
  method: string;
  request: Buffer | undefined;
}

export interface FaultProxy {
  /** grpc://127.0.0.1:PORT */
  url: string;
  rules: FaultRules;
  calls: RecordedCall[];
  /** how many calls of `method` arrived */
  count(method: string): number;
  stop(): Promise<void>;
}

const SERVICES = [CapabilitiesService, CasService, ActionCacheService, ExecutionService, ByteStreamService];
const raw = (b: Buffer) => b;

function asError(f: Fault): ServiceError {
  return Object.assign(new Error(f.details), { code: f.code, details: f.details, metadata: f.metadata ?? new Metadata() });
}

/** The caller's metadata without what the transport sets itself. */
function forwarded(m: Metadata): Metadata {
  const out = new Metadata();
  for (const [key, value] of Object.entries(m.getMap()))
    if (!/^(grpc-|user-agent$|content-type$|te$)/.test(key)) out.set(key, value as string);
  return out;
}

export async function startFaultProxy(upstreamUrl: string, rules: FaultRules = {}): Promise<FaultProxy> {
  const upstream = new Client(upstreamUrl.replace(/^grpc:\/\//, ""), credentials.createInsecure(), {
    "grpc.max_receive_message_length": 8 * 2 ** 20,
  });
  const server = new Server({ "grpc.max_receive_message_length": 8 * 2 ** 20 });
  const calls: RecordedCall[] = [];
  const counts = new Map<string, number>();
  const proxy: FaultProxy = {
    url: "",
    rules,
    calls,
    count: (method) => counts.get(method) ?? 0,
    stop: async () => {
      server.forceShutdown();
      upstream.close();
    },
  };
  const arrive = async (method: string, request: Buffer | undefined): Promise<Fault | undefined> => {
    calls.push({ method, request });
    counts.set(method, (counts.get(method) ?? 0) + 1);
    try {
      return await proxy.rules.refuse?.(method, request, counts.get(method)!);
    } catch (e) {
      return { code: status.INTERNAL, details: `the proxy's rule failed: ${(e as Error).message}` };
    }
  };

  for (const service of SERVICES) {
    const definition: Record<string, MethodDefinition<Buffer, Buffer>> = {};
    const handlers: UntypedServiceImplementation = {};
    for (const [name, m] of Object.entries(service) as [string, { path: string; requestStream: boolean; responseStream: boolean }][]) {
      definition[name] = {
        path: m.path,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      };
      if (!m.requestStream && !m.responseStream) {
        handlers[name] = async (call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
          const fault = await arrive(name, call.request);
          if (fault) return done(asError(fault));
          const up = upstream.makeUnaryRequest(m.path, raw, raw, call.request, forwarded(call.metadata), {}, (e, res) => {
            if (e) return done(e);
            Promise.resolve(proxy.rules.response ? proxy.rules.response(name, res!, call.request) : res!).then(
              (out) => done(null, out),
              (err: Error) => done(asError({ code: status.INTERNAL, details: `the proxy's rule failed: ${err.message}` })),
            );
          });
          call.on("cancelled", () => up.cancel());
        };
      } else if (m.responseStream) {
        handlers[name] = async (call: ServerWritableStream<Buffer, Buffer>) => {
          const fault = await arrive(name, call.request);
          if (fault) return void call.emit("error", asError(fault));
          const up = upstream.makeServerStreamRequest(m.path, raw, raw, call.request, forwarded(call.metadata), {});
          let cut = false;
          let index = 0;
          // messages are handled one after another, and the end after the last of them
          let chain = Promise.resolve();
          const stop = (how: Fault | "end") => {
            cut = true;
            up.cancel();
            // an error is emitted: grpc-js sends it as the status (destroy(error) would send none)
            if (how === "end") call.end();
            else call.emit("error", asError(how));
          };
          up.on("data", (message: Buffer) => {
            const i = index++;
            chain = chain.then(async () => {
              if (cut) return;
              const f = await proxy.rules.streamed?.(name, message, call.request, i);
              if (!f?.drop) call.write(f?.message ?? message);
              if (f?.cut) stop(f.cut);
            });
            chain = chain.catch((err: Error) => stop({ code: status.INTERNAL, details: `the proxy's rule failed: ${err.message}` }));
          });
          up.on("error", () => {}); // its status follows
          up.on("status", (s: StatusObject) => {
            chain = chain.then(() => {
              if (cut) return;
              if (s.code === status.OK) call.end();
              else call.emit("error", asError({ code: s.code, details: s.details, metadata: s.metadata }));
            });
          });
          call.on("cancelled", () => {
            cut = true;
            up.cancel();
          });
        };
      } else {
        handlers[name] = async (call: ServerReadableStream<Buffer, Buffer>, done: sendUnaryData<Buffer>) => {
          const fault = await arrive(name, undefined);
          if (fault) return done(asError(fault));
          const up = upstream.makeClientStreamRequest(m.path, raw, raw, forwarded(call.metadata), {}, (e, res) =>
            e ? done(e) : done(null, res!),
          );
          call.on("data", (message: Buffer) => {
            if (!up.write(message)) {
              call.pause();
              up.once("drain", () => call.resume());
            }
          });
          call.on("end", () => up.end());
          call.on("cancelled", () => up.cancel());
        };
      }
    }
    server.addService(definition, handlers);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  proxy.url = `grpc://127.0.0.1:${port}`;
  return proxy;
}
