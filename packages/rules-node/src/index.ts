// @hb/rules-node: rules for JavaScript and TypeScript. (The rules arrive with their issue;
// the module exists so BUILD.ts files can import it.)
export {};
