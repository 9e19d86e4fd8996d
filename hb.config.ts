import { defineConfig } from "@hb/core";

// The workspace root: every directory below with a BUILD.ts is a package of this workspace.
export default defineConfig({
  ignore: ["bench/work"],
});
