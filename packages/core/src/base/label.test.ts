import { describe, expect, it } from "vitest";
import { HbError } from "./errors";
import { canonicalLabel, displayLabel, formatTargetPattern, parseLabel, parseTargetPattern } from "./label";

describe("parseLabel", () => {
  it("reads every form a label takes", () => {
    expect(parseLabel("//pkg/sub:name")).toEqual({ pkg: "pkg/sub", name: "name" });
    expect(parseLabel("//pkg/sub")).toEqual({ pkg: "pkg/sub", name: "sub" });
    expect(parseLabel("//:root")).toEqual({ pkg: "", name: "root" });
    expect(parseLabel(":name", "a/b")).toEqual({ pkg: "a/b", name: "name" });
    expect(parseLabel("src/file.ts", "a")).toEqual({ pkg: "a", name: "src/file.ts" });
  });

  it.each([
    ["//", "names no target"],
    ["//a//b:c", "'//'"],
    ["//a/../b:c", "'..'"],
    ["//a:", "empty target name"],
    ["//a:b/../c", "'..'"],
    ["@repo//a:b", "external repositories"],
    ["a:b", "must start with '//'"],
    ["//a b:c", "not allowed"],
  ])("refuses %s", (text, why) => {
    expect(() => parseLabel(text)).toThrow(HbError);
    expect(() => parseLabel(text)).toThrow(why);
  });

  it("refuses a relative label with a colon inside a package", () => {
    expect(() => parseLabel("x:y", "pkg")).toThrow("may not contain ':'");
  });

  it("formats canonically and for display", () => {
    expect(canonicalLabel("//a/b")).toBe("//a/b:b");
    expect(canonicalLabel(":x", "a")).toBe("//a:x");
    expect(displayLabel({ pkg: "a/b", name: "b" })).toBe("//a/b");
    expect(displayLabel({ pkg: "a/b", name: "c" })).toBe("//a/b:c");
  });
});

describe("parseTargetPattern", () => {
  it("reads recursive, package and target patterns", () => {
    expect(parseTargetPattern("//...")).toEqual({ kind: "recursive", pkg: "" });
    expect(parseTargetPattern("//a/...")).toEqual({ kind: "recursive", pkg: "a" });
    expect(parseTargetPattern("//a:all")).toEqual({ kind: "package", pkg: "a" });
    expect(parseTargetPattern("//a:*")).toEqual({ kind: "package", pkg: "a" });
    expect(parseTargetPattern("//a:t")).toEqual({ kind: "target", label: { pkg: "a", name: "t" } });
  });

  it("resolves relative patterns against the current package", () => {
    expect(parseTargetPattern(":t", "a/b")).toEqual({ kind: "target", label: { pkg: "a/b", name: "t" } });
    expect(parseTargetPattern("...", "a")).toEqual({ kind: "recursive", pkg: "a" });
    expect(parseTargetPattern("c:t", "a")).toEqual({ kind: "target", label: { pkg: "a/c", name: "t" } });
    expect(formatTargetPattern(parseTargetPattern("sub/...", "a"))).toBe("//a/sub/...");
  });

  it("quotes a bad pattern as it was written, and refuses external repositories by name", () => {
    expect(() => parseTargetPattern("@repo//lib")).toThrow(
      "invalid label '@repo//lib': external repositories (@repo//...) are not supported",
    );
    expect(() => parseTargetPattern("foo bar", "a")).toThrow(
      "invalid label 'foo bar': package path segment 'foo bar' has a character that is not allowed",
    );
  });
});
