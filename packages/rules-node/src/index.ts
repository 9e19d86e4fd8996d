// @hb/rules-node: rules for JavaScript and TypeScript.
export { esbuild } from "./esbuild";
export { node_binary } from "./node-binary";
export { node_test } from "./node-test";
export { npm_deps } from "./npm-deps";
export { npm_package } from "./npm-package";
export { ts_check } from "./ts-check";
export { ts_project } from "./ts-project";
export { esbuild_toolchain, DEFAULT_TOOLS } from "./tools";
