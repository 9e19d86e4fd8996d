// @hb/cache-server: the team remote cache (`hb cache serve`), speaking the Bazel HTTP cache protocol.

export { startCacheServer, type CacheServer, type CacheServerOptions, type CacheStatus } from "./server/cache-server";
export { parseSize, formatSize } from "./config/size";
export { loadTokensFile, parseTokens, type AccessPolicy, type Scope, type TokenGrant } from "./auth/policy";
export { jsonLines, type AccessLogEntry, type AccessLogSink } from "./log/access-log";
export { acEntryInfo, type AcEntryFormat, type AcEntryInfo } from "./protocol/ac-entry";
export { HB_ENTRY_FORMAT, type EntryAddress } from "./protocol/hb-entry";
export { InvalidAcEntry, type AcEntryRefusalReason } from "./protocol/invalid-entry";
