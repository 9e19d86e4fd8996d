import { describe, expect, it } from "vitest";
import { effectivePolicy } from "../../workspace/release-config";
import { policyDigest } from "./gate";

const builders = { "urn:hb:ci:main": ["keys/a.pem"], "urn:hb:rebuilder:b": ["keys/b.pem"] };
const ids = (a: string, b: string) =>
  new Map([
    ["urn:hb:ci:main", [a]],
    ["urn:hb:rebuilder:b", [b]],
  ]);

describe("policyDigest", () => {
  it("names the policy by what it decides: its rules and its keys' content, not file names or order", () => {
    const policy = effectivePolicy({ builders, corroboration: 2 });
    const digest = policyDigest(policy, ids("1".repeat(64), "2".repeat(64)));
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    const reordered = new Map([...ids("1".repeat(64), "2".repeat(64))].reverse());
    expect(
      policyDigest(
        effectivePolicy({ builders: { "urn:hb:rebuilder:b": ["x.pem"], "urn:hb:ci:main": ["y.pem"] }, corroboration: 2 }),
        reordered,
      ),
    ).toBe(digest);
    expect(policyDigest(policy, ids("1".repeat(64), "3".repeat(64)))).not.toBe(digest);
    expect(policyDigest(effectivePolicy({ builders, corroboration: 1 }), ids("1".repeat(64), "2".repeat(64)))).not.toBe(digest);
    expect(
      policyDigest(effectivePolicy({ builders, corroboration: 2, maxHermeticViolations: 0 }), ids("1".repeat(64), "2".repeat(64))),
    ).not.toBe(digest);
  });
});
