import { describe, expect, it } from "vitest";
import { HbError } from "../base/errors";
import { validateConfig } from "./config";
import { effectivePolicy } from "./release-config";

const builders = { "urn:hb:ci:main": ["keys/ci.pem"], "urn:hb:rebuilder:b": ["keys/b.pem"] };

function error(release: unknown): HbError {
  try {
    validateConfig({ release }, "hb.config.ts");
  } catch (e) {
    expect(e).toBeInstanceOf(HbError);
    expect((e as HbError).code).toBe("BAD_CONFIG");
    expect((e as HbError).location).toEqual({ file: "hb.config.ts" });
    return e as HbError;
  }
  throw new Error("accepted");
}

describe("the release setting", () => {
  it("accepts the documented form and fills the policy's defaults", () => {
    const release = { targets: ["//app:package"], policy: { builders, corroboration: 2, strict: true, maxHermeticViolations: 0 } };
    expect(validateConfig({ release }, "hb.config.ts")).toEqual({ release });
    expect(effectivePolicy({ builders })).toEqual({
      builders,
      corroboration: 1,
      cleanTree: true,
      pinnedInputs: true,
      sandboxed: true,
      strict: false,
    });
    expect(validateConfig({ release: { targets: ["//app:package"] } }, "hb.config.ts").release).toEqual({ targets: ["//app:package"] });
  });

  it("names an unknown key at any depth, with the closest known one", () => {
    expect(error({ targets: ["//a"], polcy: {} }).message).toBe("unknown setting 'release.polcy' in hb.config.ts");
    const e = error({ targets: ["//a"], policy: { builders, corroboraton: 2 } });
    expect(e.message).toBe("unknown setting 'release.policy.corroboraton' in hb.config.ts");
    expect(e.hint).toBe("did you mean 'release.policy.corroboration'?");
  });

  it.each([
    [{ targets: [] }, "'release.targets' in hb.config.ts must be a non-empty array of target labels"],
    [{ targets: ["app:package"] }, "'release.targets'"],
    [{ targets: ["//a"], policy: {} }, "'release.policy.builders' in hb.config.ts is required"],
    [
      { targets: ["//a"], policy: { builders: { "ci main": ["k.pem"] } } },
      "'release.policy.builders' in hb.config.ts must be an object from builder id (a URI",
    ],
    [{ targets: ["//a"], policy: { builders: { "urn:hb:ci": [] } } }, "'release.policy.builders'"],
    [
      { targets: ["//a"], policy: { builders, corroboration: 0 } },
      "'release.policy.corroboration' in hb.config.ts must be an integer >= 1",
    ],
    [{ targets: ["//a"], policy: { builders, cleanTree: "yes" } }, "'release.policy.cleanTree' in hb.config.ts must be true or false"],
    [
      { targets: ["//a"], policy: { builders, maxHermeticViolations: -1 } },
      "'release.policy.maxHermeticViolations' in hb.config.ts must be an integer >= 0",
    ],
    [{ targets: ["//a"], policy: { builders, corroboration: 3 } }, "is 3, but only 2 builder(s) are trusted: no release could pass"],
  ])("refuses %j", (release, message) => {
    expect(error(release).message).toContain(message);
  });
});
