// @hb/core/reapi: the Remote Execution API's messages and gRPC methods, for hb's cache server
// (its names clash with the engine's own Digest and ActionResult, so they stand apart).

export * from "./proto";
export * from "./services";
export { HB_ENTRY_TYPE_URL } from "./entry-ref";
