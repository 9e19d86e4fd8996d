// What a BUILD.ts sees as `@hb/core`.
export { attr } from "./attrs";
export type { AttrSchema, AttrSpec, RuleArgs, AttrValues, CommonArgs } from "./attrs";
export type { File, Providers, TargetRef } from "./file";
export { filegroup } from "./filegroup";
export { genrule } from "./genrule";
export { http_file } from "./http-file";
export { glob, type GlobOptions } from "./glob";
export { rule } from "./rule";
export { commandLoggingTo } from "./shell";
export { toolchain, local_toolchain, toolchainOf, shell_toolchain, node_toolchain, type Toolchain } from "./toolchain";
export type {
  Actions,
  FetchOptions,
  NpmInstallOptions,
  PackageType,
  RuleContext,
  RuleDefinition,
  RuleFunction,
  RunOptions,
  WriteOptions,
} from "./rule";
export { defineConfig } from "../workspace/config";
// a rule's implementation reports what is wrong as BUILD.ts errors do
export { HbError } from "../base/errors";
