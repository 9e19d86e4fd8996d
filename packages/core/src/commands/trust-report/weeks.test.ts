import { describe, expect, it } from "vitest";
import { MAX_WEEKS, isoWeek, parseSince, weekStart, weeksBetween } from "./weeks";

describe("ISO weeks", () => {
  it("names a moment's week as ISO 8601 does, across year ends", () => {
    expect(isoWeek(Date.parse("2026-12-04T22:00:00Z"))).toBe("2026-W49");
    expect(isoWeek(Date.parse("2021-01-03T12:00:00Z"))).toBe("2020-W53");
    expect(isoWeek(Date.parse("2024-12-30T00:00:00Z"))).toBe("2025-W01");
    expect(isoWeek(Date.parse("2026-01-01T00:00:00Z"))).toBe("2026-W01");
    expect(weekStart(Date.parse("2026-12-06T23:59:59Z"))).toBe(Date.parse("2026-11-30T00:00:00Z"));
    expect(weekStart(Date.parse("2026-11-30T00:00:00Z"))).toBe(Date.parse("2026-11-30T00:00:00Z"));
  });

  it("lists the weeks of a period oldest first, the current one last: 8w is this week and the 7 before", () => {
    const now = Date.parse("2026-12-04T22:00:00Z");
    expect(weeksBetween(parseSince("3w", now), now)).toEqual(["2026-W47", "2026-W48", "2026-W49"]);
    expect(weeksBetween(parseSince("8w", now), now)).toHaveLength(8);
    expect(weeksBetween(parseSince("1w", now), now)).toEqual(["2026-W49"]);
  });

  it("starts a period on the Monday of the week it names, so the first week is counted whole", () => {
    const now = Date.parse("2026-12-04T22:00:00Z");
    expect(parseSince("2w", now)).toBe(Date.parse("2026-11-23T00:00:00Z"));
    // 30 days before a Friday is a Wednesday: its week from Monday
    expect(parseSince("30d", now)).toBe(Date.parse("2026-11-02T00:00:00Z"));
    expect(parseSince("2026-10-01", now)).toBe(Date.parse("2026-09-28T00:00:00Z"));
    expect(weeksBetween(parseSince("2026-10-01", now), now)[0]).toBe("2026-W40");
  });

  it("refuses what is not a period or a past date, and a period past the bound, with a hint", () => {
    const now = Date.parse("2026-12-04T22:00:00Z");
    for (const bad of [
      "soon",
      "0w",
      "-3w",
      "1e3w",
      "8 w",
      "99999999999w",
      `${MAX_WEEKS + 1}w`,
      "2026-13-01",
      "2026-02-31",
      "2027-01-01",
      "2010-01-01",
      "Dec 1 2026",
    ]) {
      expect(() => parseSince(bad, now), bad).toThrow(
        expect.objectContaining({ code: "USAGE", hint: expect.stringContaining(`at most ${MAX_WEEKS} weeks`) }),
      );
    }
    expect(weeksBetween(parseSince(`${MAX_WEEKS}w`, now), now)).toHaveLength(MAX_WEEKS);
  });
});
