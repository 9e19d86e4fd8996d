import { readFileSync } from "node:fs";
import { Client, type ClientReadableStream, Metadata, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { HbError } from "../../../base/errors";
import type { MessageName, Messages, Input } from "./proto";
import type { Method } from "./services";

/** Where a REAPI endpoint is and how to reach it. */
export interface ReapiEndpoint {
  /** grpc://host:port or grpcs://host:port */
  url: string;
  /** PEM file of the CA that signed a grpcs:// server's certificate (default: the system's roots) */
  caFile?: string;
  /** bearer token (HB_CACHE_TOKEN): sent as authorization metadata */
  token?: string;
}

/** Codes worth another try: the server or the network, not the request. */
const RETRIED = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.INTERNAL,
  status.UNKNOWN,
]);
const ATTEMPTS = 3;
/** gRPC's usual cap on one message; a batch stays under it */
export const MAX_MESSAGE = 4 * 2 ** 20;

export function isRetried(e: unknown): boolean {
  return RETRIED.has((e as ServiceError)?.code);
}

export function codeOf(e: unknown): status | undefined {
  return (e as ServiceError)?.code;
}

export function parseGrpcUrl(url: string, flag: string): { target: string; tls: boolean } {
  const m = /^(grpcs?):\/\/([^/@]+?)\/?$/.exec(url);
  if (!m)
    throw new HbError("USAGE", `${flag} '${url}' is not grpc://HOST:PORT or grpcs://HOST:PORT`, {
      hint: "the token comes from HB_CACHE_TOKEN, the instance from --remote-instance",
    });
  return { target: m[2]!, tls: m[1] === "grpcs" };
}

/**
 * One gRPC connection to a REAPI server: unary calls with a deadline and retries with backoff
 * on the codes that say "the server or the network", streams for ByteStream and Execute.
 */
export class ReapiChannel {
  private readonly client: Client;
  private readonly metadata: Metadata;
  readonly display: string;

  constructor(ep: ReapiEndpoint, flag: string) {
    const { target, tls } = parseGrpcUrl(ep.url, flag);
    let creds = credentials.createInsecure();
    if (tls) {
      let ca: Buffer | undefined;
      if (ep.caFile) {
        try {
          ca = readFileSync(ep.caFile);
        } catch (e) {
          throw new HbError("USAGE", `--remote-ca ${ep.caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      }
      creds = credentials.createSsl(ca);
    } else if (ep.caFile) {
      throw new HbError("USAGE", `--remote-ca is for grpcs:// servers; ${ep.url} is plain grpc://`);
    }
    this.client = new Client(target, creds, {
      "grpc.max_receive_message_length": MAX_MESSAGE + 1024 * 1024,
      "grpc.keepalive_time_ms": 60_000,
    });
    this.metadata = new Metadata();
    if (ep.token) this.metadata.set("authorization", `Bearer ${ep.token}`);
    this.display = ep.url;
  }

  /** One unary call, no retries. */
  call<Req extends MessageName, Res extends MessageName>(
    m: Method<Req, Res>,
    req: Input<Messages[Req]>,
    deadlineMs = 30_000,
  ): Promise<Messages[Res]> {
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(
        m.path,
        m.requestSerialize as (v: Input<Messages[Req]>) => Buffer,
        m.responseDeserialize,
        req,
        this.metadata,
        { deadline: Date.now() + deadlineMs },
        (e, res) => (e ? reject(e) : resolve(res!)),
      ),
    );
  }

  /** A unary call, retried (see retried). */
  unary<Req extends MessageName, Res extends MessageName>(
    m: Method<Req, Res>,
    req: Input<Messages[Req]>,
    deadlineMs?: number,
  ): Promise<Messages[Res]> {
    return this.retried(() => this.call(m, req, deadlineMs));
  }

  /** `attempt` (a unary call, or a whole stream) made again with backoff (100 ms, 300 ms) while the failure is the server's or the network's. */
  async retried<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (n >= ATTEMPTS || !isRetried(e)) throw e;
        await new Promise((r) => setTimeout(r, 100 * 3 ** (n - 1)));
      }
    }
  }

  serverStream<Req extends MessageName, Res extends MessageName>(
    m: Method<Req, Res>,
    req: Input<Messages[Req]>,
    deadlineMs?: number,
  ): ClientReadableStream<Messages[Res]> {
    return this.client.makeServerStreamRequest(
      m.path,
      m.requestSerialize as (v: Input<Messages[Req]>) => Buffer,
      m.responseDeserialize,
      req,
      this.metadata,
      deadlineMs ? { deadline: Date.now() + deadlineMs } : {},
    );
  }

  /** A client stream (ByteStream Write): `send` writes the messages; resolves with the response. */
  clientStream<Req extends MessageName, Res extends MessageName>(
    m: Method<Req, Res>,
    send: (write: (req: Input<Messages[Req]>) => Promise<void>) => Promise<void>,
    deadlineMs: number,
  ): Promise<Messages[Res]> {
    return new Promise((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(
        m.path,
        m.requestSerialize as (v: Input<Messages[Req]>) => Buffer,
        m.responseDeserialize,
        this.metadata,
        { deadline: Date.now() + deadlineMs },
        (e, res) => (e ? reject(e) : resolve(res!)),
      );
      const write = (req: Input<Messages[Req]>) =>
        new Promise<void>((done) => {
          if (call.write(req)) done();
          else call.once("drain", done);
        });
      send(write).then(
        () => call.end(),
        (e: unknown) => {
          call.cancel();
          reject(e);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** A failure's words: the gRPC status name and details, never the token. */
export function describeGrpcError(e: unknown): string {
  const err = e as ServiceError;
  if (typeof err?.code === "number") return `${status[err.code] ?? err.code}: ${err.details || err.message}`;
  return String((e as Error)?.message ?? e);
}
