import { describe, expect, it } from "vitest";
import { isoWeek, parseSince, weeksBetween } from "./weeks";

describe("ISO weeks", () => {
  it("names a moment's week as ISO 8601 does, across year ends", () => {
    expect(isoWeek(Date.parse("2026-12-04T22:00:00Z"))).toBe("2026-W49");
    expect(isoWeek(Date.parse("2021-01-03T12:00:00Z"))).toBe("2020-W53");
    expect(isoWeek(Date.parse("2024-12-30T00:00:00Z"))).toBe("2025-W01");
    expect(isoWeek(Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-W01");
  });

  it("lists the weeks of a period oldest first, the current one last", () => {
    const now = Date.parse("2026-12-04T22:00:00Z");
    expect(weeksBetween(parseSince("3w", now)!, now)).toEqual(["2026-W46", "2026-W47", "2026-W48", "2026-W49"]);
    expect(parseSince("2026-10-01", now)).toBe(Date.parse("2026-10-01"));
    expect(parseSince("soon", now)).toBeUndefined();
  });
});
