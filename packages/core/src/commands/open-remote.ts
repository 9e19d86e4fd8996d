import { type KeyObject, createPublicKey } from "node:crypto";
import { resolve } from "node:path";
import { loadPrivateKey, loadPublicKey } from "../base/keys";
import { HbError } from "../base/errors";
import { RemoteCache } from "../caching/remote/remote-cache";
import type { ReapiChannel } from "../caching/remote/reapi/channel";
import type { GrpcRemoteCache } from "../caching/remote/reapi/grpc-cache";
import type { RemoteStats, TeamCache } from "../caching/remote/team-cache";
import type { RemoteCacheConfig } from "../workspace/config";

/** The team cache as the command line gives it; overrides hb.config.ts's remoteCache. */
export interface RemoteFlags {
  url?: string;
  instance?: string;
  readInstances?: string[];
  upload?: boolean;
  /** private key that signs uploaded entries */
  signingKey?: string;
  /** public keys trusted for every read instance */
  trustedKeys?: string[];
  /** HB_CACHE_TOKEN */
  token?: string;
  /** grpc(s)://: run actions there (REAPI Execute); also the cache when no url is given */
  executor?: string;
  /** PEM of the CA that signed a grpcs:// server's certificate */
  caFile?: string;
  /** --exec-property: platform properties over hb.config.ts's execProperties */
  execProperties?: Record<string, string>;
}

/** The team cache and, with --remote-executor, where actions run. */
export interface RemoteSetup {
  cache?: TeamCache;
  execution?: RemoteExecutionSetup;
}

/** What a RemoteRuns needs besides the build's CAS. */
export interface RemoteExecutionSetup {
  channel: ReapiChannel;
  instance: string;
  trustEngine: boolean;
  stats: RemoteStats;
}

export async function openRemote(
  root: string,
  cwd: string,
  config: RemoteCacheConfig | undefined,
  flags: RemoteFlags | undefined,
  warn: (m: string) => void,
): Promise<RemoteSetup> {
  // gRPC is loaded only for a grpc(s):// cache or executor: a no-op build does not pay for it
  const grpc = [flags?.url, flags?.executor, config?.url].some((u) => u && /^grpcs?:\/\//.test(u))
    ? { ...(await import("../caching/remote/reapi/channel")), ...(await import("../caching/remote/reapi/grpc-cache")) }
    : undefined;
  const cache = openRemoteCache(root, cwd, config, flags, warn, grpc);
  if (!flags?.executor || !grpc) return { cache };
  const { ReapiChannel, GrpcRemoteCache } = grpc;
  if (!flags?.executor) return { cache };
  const trustEngine = new Set(Object.entries(config?.trustEngine ?? {}).flatMap(([name, on]) => (on ? [name] : [])));
  const shared = cache instanceof GrpcRemoteCache && cache.opts.channel.display === flags.executor ? cache : undefined;
  const channel =
    shared?.opts.channel ??
    new ReapiChannel({ url: flags.executor, token: flags.token, caFile: flags.caFile && resolve(cwd, flags.caFile) }, "--remote-executor");
  const instance = flags.instance ?? config?.instance ?? "";
  return {
    cache,
    execution: { channel, instance, trustEngine: trustEngine.has(instance), stats: cache?.stats ?? emptyStats() },
  };
}

function emptyStats(): RemoteStats {
  return { hits: 0, misses: 0, bytesDownloaded: 0, bytesUploaded: 0, uploads: 0, rejected: {}, refusedUploads: {} };
}

/**
 * The team cache for this build, from hb.config.ts's remoteCache and the command line (which
 * wins): where it is, which instance it writes and which it reads in order, and which keys are
 * trusted for each. Undefined when there is none.
 */
function openRemoteCache(
  root: string,
  cwd: string,
  config: RemoteCacheConfig | undefined,
  flags: RemoteFlags | undefined,
  warn: (m: string) => void,
  grpcModules: { ReapiChannel: typeof ReapiChannel; GrpcRemoteCache: typeof GrpcRemoteCache } | undefined,
): TeamCache | undefined {
  const given = flags?.url ?? flags?.executor ?? config?.url;
  if (!given) {
    if (flags?.upload)
      throw new HbError("USAGE", "--remote-upload needs a remote cache: --remote-cache URL, or remoteCache in hb.config.ts");
    return undefined;
  }
  const grpc = /^grpcs?:\/\//.test(given);
  const { url, urlInstance } = grpc ? { url: given, urlInstance: undefined } : instanceInUrl(given);
  if (
    urlInstance !== undefined &&
    (flags?.instance !== undefined || config?.instance !== undefined || flags?.readInstances?.length || config?.readInstances)
  ) {
    throw new HbError(
      "USAGE",
      `the remote cache URL names instance '${urlInstance}' (Bazel's form) and instances are given as settings too`,
      {
        hint: "name the instance once: in the URL, or with --remote-instance / --remote-read-instance (remoteCache.instance / readInstances)",
      },
    );
  }
  const instance = urlInstance ?? flags?.instance ?? config?.instance ?? "";
  const readInstances = flags?.readInstances?.length ? flags.readInstances : (config?.readInstances ?? [instance]);
  for (const name of [instance, ...readInstances]) {
    if (!/^[A-Za-z0-9._-]*$/.test(name))
      throw new HbError("USAGE", `remote cache instance '${name}' may hold only letters, digits, '.', '_' and '-'`);
  }
  const trusted = new Map<string, KeyObject[]>();
  const trust = (name: string, key: KeyObject) => trusted.set(name, [...(trusted.get(name) ?? []), key]);
  for (const [name, files] of Object.entries(config?.trustedKeys ?? {}))
    for (const f of files) trust(name, loadPublicKey(resolve(root, f)));
  for (const f of flags?.trustedKeys ?? []) trust("*", loadPublicKey(resolve(cwd, f)));
  if (flags?.upload && !flags.signingKey) {
    throw new HbError(
      "USAGE",
      "--remote-upload needs --signing-key FILE: hb signs what it uploads, and clients use only entries signed by keys they trust",
      {
        hint: "make a key pair with hb keygen --out DIR; give CI the private key and everyone else the public one (--trusted-key)",
      },
    );
  }
  const signingKey = flags?.signingKey ? loadPrivateKey(resolve(cwd, flags.signingKey)) : undefined;
  // what this client signed itself, it trusts in the instance it writes
  if (signingKey) trust(instance, createPublicKey(signingKey));
  if (trusted.size === 0) warn("remote cache: no trusted keys (--trusted-key or remoteCache.trustedKeys), so no entry will be accepted");
  // hb.config.ts comes with every change, a pull request's too: the token goes only where the command line says
  const named = flags?.url ?? flags?.executor;
  const token = named ? flags?.token : undefined;
  if (!named && flags?.token) {
    warn(
      `HB_CACHE_TOKEN is sent only to a cache named on the command line (--remote-cache ${url}): the url in hb.config.ts can be changed by any change to the tree; reading without it`,
    );
  }
  if (grpc && grpcModules) {
    const { ReapiChannel, GrpcRemoteCache } = grpcModules;
    const trustEngine = new Set(Object.entries(config?.trustEngine ?? {}).flatMap(([name, on]) => (on ? [name] : [])));
    return new GrpcRemoteCache(
      {
        channel: new ReapiChannel(
          { url, token, caFile: flags?.caFile && resolve(cwd, flags.caFile) },
          flags?.url ? "--remote-cache" : "--remote-executor",
        ),
        instance,
        readInstances,
        upload: flags?.upload === true,
        signingKey,
        trustedKeys: trusted,
        trustEngine,
      },
      warn,
    );
  }
  if (flags?.caFile) throw new HbError("USAGE", "--remote-ca is for a grpcs:// remote cache or executor");
  return new RemoteCache(
    {
      url,
      token,
      instance,
      readInstances,
      upload: flags?.upload === true,
      signingKey,
      trustedKeys: trusted,
    },
    warn,
  );
}

/**
 * Bazel's `--remote_cache=http://host:port/NAME` puts the instance in the URL's path; hb reads it
 * the same way (one segment), and talks to the URL without it.
 */
function instanceInUrl(given: string): { url: string; urlInstance?: string } {
  let u: URL;
  try {
    u = new URL(given);
  } catch {
    return { url: given };
  }
  const path = u.pathname.replace(/^\/+|\/+$/g, "");
  if (path === "") return { url: given };
  if (path.includes("/"))
    throw new HbError(
      "USAGE",
      `the remote cache URL's path '/${path}' is not an instance name (one segment of letters, digits, '.', '_', '-')`,
    );
  u.pathname = "/";
  return { url: u.toString(), urlInstance: decodeURIComponent(path) };
}
