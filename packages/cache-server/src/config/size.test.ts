import { describe, expect, it } from "vitest";
import { formatSize, parseSize } from "./size";

describe("parseSize", () => {
  it("reads plain bytes, SI and IEC units, any case, decimals", () => {
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("500MB")).toBe(500_000_000);
    expect(parseSize("10GiB")).toBe(10 * 2 ** 30);
    expect(parseSize("1.5 kib")).toBe(1536);
    expect(parseSize("2T")).toBe(2e12);
  });

  it("refuses what is not a size with a usage error", () => {
    for (const bad of ["", "ten", "10XB", "-5", "1e9", "5 GiB extra"]) {
      expect(() => parseSize(bad, "--max-size")).toThrow(expect.objectContaining({ code: "USAGE" }));
    }
  });

  it("formats sizes for people", () => {
    expect(formatSize(10 * 2 ** 30)).toBe("10 GiB");
    expect(formatSize(1536)).toBe("1.5 KiB");
    expect(formatSize(12)).toBe("12 B");
  });
});
