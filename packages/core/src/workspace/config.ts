import { bytesOf } from "../base/size";
import { HbError, didYouMean } from "../base/errors";
import type { SandboxMode } from "../base/action-env";
import { type ReleaseConfig, validateRelease } from "./release-config";

/** The default export of `hb.config.ts`. Evaluated in the sandboxed analyzer like a BUILD.ts. */
export interface WorkspaceConfig {
  /** directory names or workspace-relative paths hb never reads for packages or globs (added to the defaults) */
  ignore?: string[];
  /** SOURCE_DATE_EPOCH given to every unstamped action (default 315532800, 1980-01-01) */
  sourceDateEpoch?: number;
  /** sandbox mode for every action (default "default") */
  sandbox?: SandboxMode;
  /** npm_deps: where packages come from and what is let through */
  npm?: NpmConfig;
  /** the team cache (hb cache serve, bazel-remote, any Bazel HTTP cache) */
  remoteCache?: RemoteCacheConfig;
  /** how long run records are kept in the output base (defaults: 180 days, 64 MiB) */
  records?: RecordsConfig;
  /** the local cache (the output base's CAS) */
  cache?: CacheConfig;
  /** the release artifacts (targets' outputs) and the policy `hb gate` promotes them by */
  release?: ReleaseConfig;
  /** limits of BUILD.ts evaluation, which runs code nobody may have reviewed */
  loading?: LoadingConfig;
  /**
   * REAPI platform properties of every action, under a target's own `exec_properties`: what a
   * remote executor's workers must offer (`{ "container-image": "docker://...", OSFamily: "linux" }`).
   * They enter the action key.
   */
  execProperties?: Record<string, string>;
}

export interface CacheConfig {
  /**
   * the most the local CAS keeps, in bytes or as "10GiB", "500MB" (default 4 GiB): past it, a
   * build ends by removing the blobs used least recently, never one it used
   */
  maxSize?: number | string;
}

/** The local cache's size when hb.config.ts names none. */
export const DEFAULT_CACHE_MAX_BYTES = 4 * 1024 ** 3;

/** A size in bytes: a number, or a string such as "10GiB", "500 MB"; undefined when it is none. */
export function parseSize(v: unknown): number | undefined {
  const bytes = typeof v === "number" ? v : typeof v === "string" ? bytesOf(v) : undefined;
  return bytes !== undefined && Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

export function cacheMaxBytes(config: WorkspaceConfig): number {
  return parseSize(config.cache?.maxSize) ?? DEFAULT_CACHE_MAX_BYTES;
}

export interface RecordsConfig {
  maxAgeDays?: number;
  maxSizeMiB?: number;
}

export interface LoadingConfig {
  /** how long one BUILD.ts (or the analysis, without a word to hb) may run; default 30 */
  timeoutSeconds?: number;
  /** the evaluator's heap; default 1024 */
  memoryMiB?: number;
}

export const DEFAULT_LOADING: Required<LoadingConfig> = { timeoutSeconds: 30, memoryMiB: 1024 };

export interface RemoteCacheConfig {
  /** http(s)://host:port, or grpc(s)://host:port for REAPI; the token comes from HB_CACHE_TOKEN, never from here */
  url: string;
  /** the instance uploads go to (a pull request's, say); default none */
  instance?: string;
  /** instances read, in order (e.g. ["pr-123", "main"]); default [instance] */
  readInstances?: string[];
  /** public keys (workspace-relative PEM files) whose entries are accepted, per instance; "*" for every instance */
  trustedKeys?: Record<string, string[]>;
  /** REAPI: instances whose results made by the engine itself (signed by no trusted key) are used; default none */
  trustEngine?: Record<string, boolean>;
}

export interface NpmConfig {
  /** registry for lockfile entries recorded without `resolved` (default https://registry.npmjs.org) */
  registry?: string;
  /** package names whose non-registry source (git, file:) is left out of the tree rather than refused */
  allowUnpinned?: string[];
}

export const DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org";

/**
 * Version-control metadata: never a source, by name, glob or toolchain path. A CI checkout keeps
 * the job's token in .git/config (http.<url>.extraheader).
 */
export const VCS_DIRS = [".git", ".hg", ".svn", ".jj", ".bzr"];

/** Directories that are never packages and never globbed. */
export const ALWAYS_IGNORED = ["node_modules", ".hb", "hb-out", ...VCS_DIRS];

/** The version-control directory `path` (workspace-relative or absolute) lies in or names, if any. */
export function vcsDirOf(path: string): string | undefined {
  return path.split("/").find((seg) => VCS_DIRS.includes(seg));
}

/** The zip epoch: the fixed SOURCE_DATE_EPOCH, so a new commit does not change every action key. */
export const DEFAULT_SOURCE_DATE_EPOCH = 315532800;

const stringList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string" && x !== "");
const NPM_KEYS: Record<keyof NpmConfig, (v: unknown) => boolean> = {
  registry: (v) => typeof v === "string" && /^https?:\/\//.test(v),
  allowUnpinned: stringList,
};

const INSTANCE = /^[A-Za-z0-9._-]*$/;
const REMOTE_KEYS: Record<keyof RemoteCacheConfig, (v: unknown) => boolean> = {
  url: (v) => typeof v === "string" && /^(https?|grpcs?):\/\/[^@\s]+$/.test(v),
  instance: (v) => typeof v === "string" && INSTANCE.test(v),
  readInstances: (v) => Array.isArray(v) && v.every((x) => typeof x === "string" && INSTANCE.test(x)),
  trustedKeys: (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(stringList),
  trustEngine: (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "boolean"),
};

const positive = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v > 0;
const RECORDS_KEYS: Record<keyof RecordsConfig, (v: unknown) => boolean> = { maxAgeDays: positive, maxSizeMiB: positive };
const CACHE_KEYS: Record<keyof CacheConfig, (v: unknown) => boolean> = { maxSize: (v) => parseSize(v) !== undefined };
const integerIn = (min: number, max: number) => (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
const LOADING_KEYS: Record<keyof LoadingConfig, (v: unknown) => boolean> = {
  timeoutSeconds: integerIn(1, 3600),
  memoryMiB: integerIn(64, 16384),
};

/** What each key of an object-valued setting must be, for errors that name the key itself. */
const NESTED: Partial<
  Record<keyof WorkspaceConfig, { keys: Record<string, (v: unknown) => boolean>; expected: Record<string, string>; required: string[] }>
> = {
  npm: {
    keys: NPM_KEYS,
    expected: { registry: "'http(s)://...'", allowUnpinned: "an array of package names" },
    required: [],
  },
  remoteCache: {
    keys: REMOTE_KEYS,
    expected: {
      url: "'http(s)://host:port' or 'grpc(s)://host:port' (no credentials: use HB_CACHE_TOKEN)",
      instance: "an instance name (letters, digits, '.', '_', '-')",
      readInstances: "an array of instance names, read in order",
      trustedKeys: 'an object from instance name (or "*" for every instance) to public key files, e.g. { main: ["keys/ci.pem"] }',
      trustEngine: "an object from instance name to true or false, e.g. { main: true } (never a pull request's instance)",
    },
    required: ["url"],
  },
  records: {
    keys: RECORDS_KEYS,
    expected: { maxAgeDays: "a number of days, more than 0", maxSizeMiB: "a size in MiB, more than 0" },
    required: [],
  },
  cache: {
    keys: CACHE_KEYS,
    expected: { maxSize: 'a size: bytes, or a string such as "10GiB" or "500MB"' },
    required: [],
  },
  loading: {
    keys: LOADING_KEYS,
    expected: { timeoutSeconds: "a whole number of seconds from 1 to 3600", memoryMiB: "a whole number of MiB from 64 to 16384" },
    required: [],
  },
};

const KEYS: Record<keyof WorkspaceConfig, (v: unknown) => boolean> = {
  ignore: stringList,
  execProperties: (v) =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, x]) => k !== "" && typeof x === "string"),
  sourceDateEpoch: (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0,
  // "none" only on the command line: hb.config.ts comes with every change, a pull request's too
  sandbox: (v) => v === "default" || v === "strict",
  npm: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, x]) => k in NPM_KEYS && (x === undefined || NPM_KEYS[k as keyof NpmConfig](x))),
  remoteCache: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as RemoteCacheConfig).url === "string" &&
    Object.entries(v).every(([k, x]) => k in REMOTE_KEYS && (x === undefined || REMOTE_KEYS[k as keyof RemoteCacheConfig](x))),
  records: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, x]) => k in RECORDS_KEYS && (x === undefined || RECORDS_KEYS[k as keyof RecordsConfig](x))),
  cache: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, x]) => k in CACHE_KEYS && (x === undefined || CACHE_KEYS[k as keyof CacheConfig](x))),
  // checked key by key by validateRelease, whose errors name the nested setting
  release: (v) => typeof v === "object" && v !== null,
  loading: (v) =>
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, x]) => k in LOADING_KEYS && (x === undefined || LOADING_KEYS[k as keyof LoadingConfig](x))),
};

const EXPECTED: Record<keyof WorkspaceConfig, string> = {
  ignore: "an array of non-empty strings",
  sourceDateEpoch: "a non-negative integer (seconds since 1970)",
  sandbox: `"default" or "strict" ("none" only on the command line, --sandbox=none: hb.config.ts comes with every change, a pull request's too)`,
  npm: "an object { registry?: 'https://...', allowUnpinned?: [names] }",
  remoteCache:
    "an object { url: 'http(s)://host:port' (no credentials: use HB_CACHE_TOKEN), instance?, readInstances?: [names], trustedKeys?: { instance: [pem files] } }",
  records: "an object { maxAgeDays?: number, maxSizeMiB?: number }",
  cache: 'an object { maxSize?: bytes or a string such as "10GiB" }',
  release: "an object { targets: ['//app:package'], policy?: { builders: { id: [pem files] }, corroboration?, ... } }",
  loading: "an object { timeoutSeconds?: 1-3600, memoryMiB?: 64-16384 }",
  execProperties: 'an object from property name to string, e.g. { "container-image": "docker://node:20" }',
};

/** Checks the shape of a config object; `file` names it in errors. */
export function validateConfig(raw: unknown, file: string): WorkspaceConfig {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new HbError("BAD_CONFIG", "hb.config.ts must `export default` an object", { location: { file } });
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in KEYS)) {
      const guess = didYouMean(key, Object.keys(KEYS));
      throw new HbError("BAD_CONFIG", `unknown setting '${key}' in hb.config.ts`, {
        location: { file },
        hint: guess ? `did you mean '${guess}'?` : `known settings: ${Object.keys(KEYS).join(", ")}`,
      });
    }
    const k = key as keyof WorkspaceConfig;
    if (value === undefined) continue;
    if (k === "release") {
      out.release = validateRelease(value, file);
      continue;
    }
    if (!KEYS[k](value)) {
      const nested = NESTED[k];
      if (nested && typeof value === "object" && value !== null && !Array.isArray(value))
        checkNested(key, value as Record<string, unknown>, nested, file);
      throw new HbError("BAD_CONFIG", `setting '${key}' in hb.config.ts must be ${EXPECTED[k]}`, { location: { file } });
    }
    out[key] = value;
  }
  return out as WorkspaceConfig;
}

/** Throws for the first key of an object-valued setting that is unknown, missing or of the wrong shape. */
function checkNested(
  key: string,
  value: Record<string, unknown>,
  nested: NonNullable<(typeof NESTED)[keyof WorkspaceConfig]>,
  file: string,
): void {
  for (const [k, v] of Object.entries(value)) {
    if (!(k in nested.keys)) {
      const guess = didYouMean(k, Object.keys(nested.keys));
      throw new HbError("BAD_CONFIG", `unknown setting '${key}.${k}' in hb.config.ts`, {
        location: { file },
        hint: guess ? `did you mean '${key}.${guess}'?` : `known: ${Object.keys(nested.keys).join(", ")}`,
      });
    }
    if (v !== undefined && !nested.keys[k]!(v))
      throw new HbError("BAD_CONFIG", `setting '${key}.${k}' in hb.config.ts must be ${nested.expected[k]}`, { location: { file } });
  }
  for (const k of nested.required) {
    if (value[k] === undefined)
      throw new HbError("BAD_CONFIG", `setting '${key}.${k}' in hb.config.ts is required: ${nested.expected[k]}`, { location: { file } });
  }
}

/** Typed identity, for `export default defineConfig({...})` in hb.config.ts. */
export function defineConfig(config: WorkspaceConfig): WorkspaceConfig {
  return config;
}
