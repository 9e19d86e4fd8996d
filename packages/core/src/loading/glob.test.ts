import { describe, expect, it } from "vitest";
import { makeWorkspace } from "../../../../test/helpers";
import { ignoreRules } from "./package-tree";
import { hostFs } from "./source-fs";
import { subpackagesReached } from "./glob";

describe("subpackagesReached", () => {
  const root = makeWorkspace({
    "BUILD.ts": "",
    "packages/a/BUILD.ts": "",
    "packages/a/src/x.ts": "",
    "packages/b/BUILD.ts": "",
    "packages/b/deep/BUILD.ts": "",
    "packages/c.ts": "",
    "libs/text/BUILD.ts": "",
    "node_modules/m/BUILD.ts": "",
    "src/y.ts": "",
  });
  const reached = (...include: string[]) => subpackagesReached(hostFs, root, "", include, ignoreRules());

  it("names the subpackages a pattern reaches into, never below one, nor an ignored directory", () => {
    expect(reached("packages/*/src/**/*.ts")).toEqual(["packages/a", "packages/b"]);
    expect(reached("**/*.ts")).toEqual(["libs/text", "packages/a", "packages/b"]);
    expect(reached("packages/{a,c}/**")).toEqual(["packages/a"]);
    expect(reached("packages/[ab]/x.ts", "lib?/text/*")).toEqual(["libs/text", "packages/a", "packages/b"]);
  });

  it("names none for patterns that stay in the package or name a subpackage's directory itself", () => {
    expect(reached("src/**/*.ts", "*.ts", "packages/*", "packages/a")).toEqual([]);
    expect(subpackagesReached(hostFs, root, "packages/b", ["*"], ignoreRules())).toEqual([]);
    expect(subpackagesReached(hostFs, root, "packages/b", ["**"], ignoreRules())).toEqual(["packages/b/deep"]);
  });
});
