// @hb/core: what a BUILD.ts and hb.config.ts may use, and nothing else (the engine is @hb/core/engine).
export * from "./api/index";
export type { WorkspaceConfig } from "./workspace/config";
export type { ReleaseConfig, ReleasePolicy } from "./workspace/release-config";
