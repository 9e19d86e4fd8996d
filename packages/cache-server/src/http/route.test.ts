import { describe, expect, it } from "vitest";
import { routeOf } from "./route";

const H = "0123456789abcdef".repeat(4);

describe("routeOf", () => {
  it("routes CAS and AC paths, with and without an instance", () => {
    expect(routeOf(`/cas/${H}`)).toEqual({ type: "entry", key: { instance: "", kind: "cas", hash: H } });
    expect(routeOf(`/ac/${H}`)).toEqual({ type: "entry", key: { instance: "", kind: "ac", hash: H } });
    expect(routeOf(`/main-ci_1.x/ac/${H}`)).toEqual({ type: "entry", key: { instance: "main-ci_1.x", kind: "ac", hash: H } });
    expect(routeOf("/status")).toEqual({ type: "status" });
    expect(routeOf("/metrics?x=1")).toEqual({ type: "metrics" });
  });

  it.each([
    `/../cas/${H}`,
    `/./cas/${H}`,
    `/%2e%2e/cas/${H}`,
    `/%2E%2E/ac/${H}`,
    `/cas/%2e%2e`,
    `/a/b/cas/${H}`,
    `//cas/${H}`,
    `/cas/${H}/`,
    `/cas/${H.toUpperCase()}`,
    `/cas/${H.slice(1)}`,
    `/cas/${H}0`,
    `/cas/../../etc/passwd`,
    `/in stance/cas/${H}`,
    `/blob/${H}`,
    `/`,
    `cas/${H}`,
  ])("refuses %s", (path) => {
    expect(routeOf(path).type).toBe("bad");
  });
});
