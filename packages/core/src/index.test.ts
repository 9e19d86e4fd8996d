import { describe, expect, it } from "vitest";
import * as core from "./index";

describe("@hb/core", () => {
  it("offers BUILD.ts files and hb.config.ts the rules, glob and defineConfig, and none of the engine", () => {
    expect(Object.keys(core).sort()).toEqual([
      "HbError",
      "attr",
      "commandLoggingTo",
      "defineConfig",
      "filegroup",
      "genrule",
      "glob",
      "http_file",
      "local_toolchain",
      "node_toolchain",
      "rule",
      "shell_toolchain",
      "toolchain",
      "toolchainOf",
    ]);
  });
});
