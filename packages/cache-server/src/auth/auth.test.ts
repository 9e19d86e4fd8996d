import { describe, expect, it } from "vitest";
import { authenticate, identityName, permits } from "./access";
import { presentedCredentials } from "./credentials";
import { LOOPBACK_OPEN_POLICY, parseTokens } from "./policy";

const CI = "ci-token-0123456789abcdef";
const DEV = "dev-token-0123456789abcdef";
const PR = "pr-token-0123456789abcdef";

const policy = parseTokens(
  JSON.stringify({
    anonymousRead: false,
    tokens: [
      { name: "ci", token: CI, scopes: ["read", "write"], instances: ["*"] },
      { token: DEV, scopes: ["read"], instances: ["*"] },
      { name: "pr", token: PR, scopes: ["read", "write"], instances: ["pr"] },
    ],
  }),
  "tokens.json",
);

const basic = (user: string, pass: string, alphabet: "base64" | "base64url" = "base64") =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString(alphabet)}`;

describe("presentedCredentials", () => {
  it("takes a bearer token or the basic-auth password with any user", () => {
    expect(presentedCredentials(`Bearer ${CI}`)).toEqual({ kind: "token", token: CI });
    expect(presentedCredentials(basic("anyone", CI))).toEqual({ kind: "token", token: CI });
    expect(presentedCredentials(basic("", CI))).toEqual({ kind: "token", token: CI });
    expect(presentedCredentials(undefined)).toEqual({ kind: "none" });
  });

  it("accepts the base64url alphabet Bazel uses for basic auth", () => {
    // "?>?" encodes to characters that differ between the alphabets
    const header = basic("u?>?", "tok~en-with-?>?", "base64url");
    expect(header).toMatch(/[-_]/);
    expect(presentedCredentials(header)).toEqual({ kind: "token", token: "tok~en-with-?>?" });
  });

  it("calls anything else malformed", () => {
    for (const h of ["Bearer", "Digest abc", `Basic ${Buffer.from("no-colon").toString("base64")}`, basic("user", ""), "Basic !!!"]) {
      expect(presentedCredentials(h)).toEqual({ kind: "malformed" });
    }
  });
});

describe("authenticate and permits", () => {
  it("knows tokens by value and names them by name or index", () => {
    const ci = authenticate(policy, `Bearer ${CI}`);
    const dev = authenticate(policy, basic("me", DEV));
    expect(ci.ok && identityName(ci.identity)).toBe("ci");
    expect(dev.ok && identityName(dev.identity)).toBe("token#1");
  });

  it("refuses unknown and malformed tokens, and never echoes them", () => {
    const wrong = authenticate(policy, `Bearer ${CI}x`);
    expect(wrong).toEqual({ ok: false, message: "unknown token" });
    expect(authenticate(policy, "Basic ###").ok).toBe(false);
  });

  it("grants scopes per token and instance", () => {
    const id = (t: string) => {
      const a = authenticate(policy, `Bearer ${t}`);
      if (!a.ok) throw new Error("unknown");
      return a.identity;
    };
    expect(permits(policy, id(CI), "write", "anything")).toBe(true);
    expect(permits(policy, id(DEV), "read", "")).toBe(true);
    expect(permits(policy, id(DEV), "write", "")).toBe(false);
    expect(permits(policy, id(PR), "write", "pr")).toBe(true);
    expect(permits(policy, id(PR), "write", "")).toBe(false);
    expect(permits(policy, id(PR), "read", "main")).toBe(false);
    expect(permits(policy, id(PR), "read")).toBe(true);
    const anonymous = authenticate(policy, undefined);
    expect(anonymous.ok && permits(policy, anonymous.identity, "read", "")).toBe(false);
    expect(anonymous.ok && permits(LOOPBACK_OPEN_POLICY, anonymous.identity, "write", "x")).toBe(true);
  });
});

describe("parseTokens", () => {
  const bad = (json: unknown) => () => parseTokens(typeof json === "string" ? json : JSON.stringify(json), "t.json");

  it("gives anonymous read only when asked", () => {
    expect([...parseTokens('{"anonymousRead": true, "tokens": []}', "t.json").anonymous]).toEqual(["read"]);
    expect([...policy.anonymous]).toEqual([]);
  });

  it.each<[string, unknown]>([
    ["broken JSON", `{"tokens": [{"token": "${CI}"`],
    ["a short token", { tokens: [{ token: "short", scopes: ["read"], instances: ["*"] }] }],
    ["a token with a space", { tokens: [{ token: "has a space in it, long", scopes: ["read"], instances: ["*"] }] }],
    [
      "a repeated token",
      {
        tokens: [
          { token: CI, scopes: ["read"], instances: ["*"] },
          { token: CI, scopes: ["write"], instances: ["*"] },
        ],
      },
    ],
    ["an unknown scope", { tokens: [{ token: CI, scopes: ["delete"], instances: ["*"] }] }],
    ["no instances", { tokens: [{ token: CI, scopes: ["read"], instances: [] }] }],
    ["a bad instance", { tokens: [{ token: CI, scopes: ["read"], instances: [".."] }] }],
    ["an unknown key", { tokens: [], anonymousWrite: true }],
  ])("refuses %s without naming the token", (_what, json) => {
    let message = "";
    try {
      bad(json)();
    } catch (e) {
      message = (e as Error).message;
      expect((e as { code?: string }).code).toBe("BAD_TOKENS_FILE");
    }
    expect(message).not.toBe("");
    expect(message).not.toContain(CI);
    expect(message).not.toContain("0123456789abcdef");
  });
});
