import { createWriteStream, openSync } from "node:fs";
import { resolve } from "node:path";
import { HbError } from "@hb/core/engine";
import { formatSize, jsonLines, parseSize, startCacheServer } from "@hb/cache-server";
import type { Command, OptionValues } from "../args";
import { intOption, stringOption } from "../args";

function sizeOption(values: OptionValues, name: string, fallback: string): number {
  const size = parseSize(stringOption(values, name) ?? fallback, `--${name}`);
  if (size <= 0) throw new HbError("USAGE", `--${name} must be more than 0 bytes`);
  return size;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) done();
    else signal.addEventListener("abort", () => done(), { once: true });
  });
}

const serveCommand: Command = {
  name: "cache serve",
  summary: "Serve a team remote cache over the Bazel HTTP cache protocol.",
  usage:
    "hb cache serve --dir DIR [--port 9092] [--host 127.0.0.1] [--max-size 10GiB] [--max-upload 4GiB] [--tokens FILE] [--trusted-keys-file FILE] [--access-log FILE] [--grpc-port N [--workers N] [--grpc-cert PEM --grpc-key PEM]]",
  description: [
    "GET, HEAD and PUT on /cas/<sha256> and /ac/<sha256>, optionally under an instance: /<instance>/cas/...",
    "(each instance is a namespace of its own). hb's clients and Bazel (--remote_cache=http://HOST:PORT)",
    "both use it. Uploads are checked: a CAS blob must hash to its name; an AC entry (hb's signed",
    "entry or Bazel's ActionResult) must name only blobs already in the CAS and is write-once.",
    "GET /status (no token needed) and GET /metrics (Prometheus) tell how it is doing.",
    "With --grpc-port it also speaks REAPI v2 over gRPC on the same store (Bazel's --remote_cache=grpc://,",
    "hb's --remote-cache grpc://): Capabilities, the CAS, ByteStream, the action cache and, with --workers,",
    "Execute, running each action in hb's bwrap sandbox (--remote_executor=grpc://, hb's --remote-executor).",
    "",
    "tokens file (re-read on SIGHUP; a bad file keeps the previous tokens):",
    '  { "anonymousRead": false,',
    '    "tokens": [ { "name": "ci", "token": "<16+ chars of A-Za-z0-9._~->", "scopes": ["read", "write"], "instances": ["*"] } ] }',
    '  instances: names, "" for the unprefixed namespace, "*" for all. Clients send a token as',
    "  'Authorization: Bearer TOKEN' or as the basic-auth password (http://user:TOKEN@HOST:PORT).",
    "Without --tokens the server starts only on a loopback address, open to everyone there.",
    'A token with the "admin" scope may DELETE /<instance>/ac/<key> (the access log names it); nothing else may.',
    "",
    "trusted keys file (re-read on SIGHUP, the same form as remoteCache.trustedKeys):",
    '  { "main": ["keys/ci.pem"], "*": ["keys/release.pem"] }   paths relative to the file, "*" for every instance',
    "  An instance with keys stores only hb entries signed by one of them (403 otherwise, counted in /metrics),",
    "  so an entry no client would trust cannot take a key; instances without keys take Bazel's unsigned entries.",
    "  Over gRPC, UpdateActionResult there must name such an hb entry in the CAS (PERMISSION_DENIED otherwise).",
    "",
    "A client is dropped (408) when its headers take over 60 s, its body moves less than 16 KiB in 60 s,",
    "or it stops reading a download for 60 s. The access log is one JSON line per request (stderr, or --access-log FILE). SIGTERM or Ctrl-C",
    "stops accepting, finishes uploads in flight and exits 0.",
  ].join("\n"),
  options: {
    dir: { type: "string", valueName: "DIR", description: "where blobs and the index are kept (created if missing)" },
    port: { type: "string", valueName: "N", description: "port to listen on (default 9092; 0 picks a free one)" },
    host: { type: "string", valueName: "ADDR", description: "address to listen on (default 127.0.0.1)" },
    "max-size": { type: "string", valueName: "SIZE", description: "evict least recently used entries above this size (default 10GiB)" },
    "max-upload": { type: "string", valueName: "SIZE", description: "refuse larger request bodies with 413 (default 4GiB)" },
    tokens: { type: "string", valueName: "FILE", description: "tokens that may read and write, per instance (see above)" },
    "trusted-keys-file": {
      type: "string",
      valueName: "FILE",
      description: "public keys hb entries must be signed with, per instance (see above)",
    },
    "access-log": { type: "string", valueName: "FILE", description: "append the access log to FILE instead of stderr" },
    "grpc-port": { type: "string", valueName: "N", description: "also serve REAPI v2 over gRPC on this port (0 picks a free one)" },
    workers: { type: "string", valueName: "N", description: "with --grpc-port: run actions (REAPI Execute) in hb's sandbox, N at once" },
    "grpc-cert": { type: "string", valueName: "PEM", description: "with --grpc-key: serve gRPC over TLS (grpcs://)" },
    "grpc-key": { type: "string", valueName: "PEM", description: "the TLS certificate's private key" },
  },
  async run({ values, cwd, signal }) {
    const dir = stringOption(values, "dir");
    if (!dir) throw new HbError("USAGE", "hb cache serve needs --dir DIR", { hint: "e.g. hb cache serve --dir /var/lib/hb-cache" });
    const port = intOption(values, "port", 0) ?? 9092;
    if (port > 65535) throw new HbError("USAGE", `--port must be at most 65535, got ${port}`);
    const maxSize = sizeOption(values, "max-size", "10GiB");
    const maxUpload = sizeOption(values, "max-upload", "4GiB");
    const tokens = stringOption(values, "tokens");
    const trustedKeys = stringOption(values, "trusted-keys-file");
    const accessLogFile = stringOption(values, "access-log");
    const accessLogStream = accessLogFile ? openAccessLog(resolve(cwd, accessLogFile)) : undefined;
    const say = (m: string) => process.stderr.write(`hb cache: ${m}\n`);
    const grpc = grpcOptions(values, cwd);
    try {
      const server = await startCacheServer({
        dir: resolve(cwd, dir),
        host: stringOption(values, "host") ?? "127.0.0.1",
        port,
        maxSize,
        maxUpload,
        tokensFile: tokens === undefined ? undefined : resolve(cwd, tokens),
        trustedKeysFile: trustedKeys === undefined ? undefined : resolve(cwd, trustedKeys),
        accessLog: jsonLines((line) => (accessLogStream ?? process.stderr).write(line)),
        log: say,
        ...grpc,
      });
      if (maxUpload > maxSize) say(`note: uploads over --max-size (${formatSize(maxSize)}) are refused whatever --max-upload says`);
      const reload = () => {
        if (tokens !== undefined || trustedKeys === undefined) server.reloadTokens();
        if (trustedKeys !== undefined) server.reloadTrustedKeys();
      };
      process.on("SIGHUP", reload);
      try {
        await untilAborted(signal);
      } finally {
        process.off("SIGHUP", reload);
        await server.close();
      }
    } finally {
      if (accessLogStream) await new Promise<void>((done) => accessLogStream.end(() => done()));
    }
    return 0;
  },
};

function grpcOptions(values: OptionValues, cwd: string) {
  const grpcPort = intOption(values, "grpc-port", 0);
  const workers = intOption(values, "workers", 0);
  const cert = stringOption(values, "grpc-cert");
  const key = stringOption(values, "grpc-key");
  if (grpcPort === undefined && (workers !== undefined || cert || key))
    throw new HbError("USAGE", "--workers, --grpc-cert and --grpc-key need --grpc-port N: they are about the REAPI (gRPC) server");
  if (grpcPort !== undefined && grpcPort > 65535) throw new HbError("USAGE", `--grpc-port must be at most 65535, got ${grpcPort}`);
  if ((cert === undefined) !== (key === undefined)) throw new HbError("USAGE", "--grpc-cert and --grpc-key go together");
  return {
    grpcPort,
    workers,
    grpcTls: cert && key ? { cert: resolve(cwd, cert), key: resolve(cwd, key) } : undefined,
  };
}

/** Opened before the server listens: a path it cannot append to is a usage error, not a crash after "serving". */
function openAccessLog(path: string) {
  let fd: number;
  try {
    fd = openSync(path, "a");
  } catch (e) {
    throw new HbError("USAGE", `cannot append the access log to ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      hint: "give --access-log a file in an existing, writable directory",
    });
  }
  return createWriteStream(path, { fd });
}

export const cacheCommand: Command = {
  name: "cache",
  summary: "Run the team remote cache server (hb cache serve).",
  usage: "hb cache <subcommand> [options]",
  options: {},
  subcommands: [serveCommand],
  async run() {
    throw new HbError("USAGE", "hb cache needs a subcommand", { hint: "e.g. hb cache serve --dir DIR; run 'hb cache --help'" });
  },
};
