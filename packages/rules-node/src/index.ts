// @hb/rules-node: rules for JavaScript and TypeScript.
export { npm_deps } from "./npm-deps";
