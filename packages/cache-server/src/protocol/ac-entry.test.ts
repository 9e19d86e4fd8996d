import { describe, expect, it } from "vitest";
import { hbEntry, hbEntryFromPayload, hbPayload } from "../testing/hb-entry";
import { digestOf, encodeActionResult, varintField } from "../testing/protobuf";
import { acEntryInfo } from "./ac-entry";
import { InvalidAcEntry } from "./invalid-entry";

const KEY = "a".repeat(64);
const blob = digestOf("blob");
const empty = digestOf("");

function refusal(fn: () => unknown): InvalidAcEntry {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidAcEntry) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("acEntryInfo on hb entries", () => {
  it("returns the files' blobs, without the empty blob and duplicates", () => {
    const bytes = hbEntry(KEY, "main", [
      { path: "hb-out/a", ...blob },
      { path: "hb-out/b", ...blob },
      { path: "hb-out/empty", ...empty },
    ]);
    expect(acEntryInfo(bytes, { hash: KEY, instance: "main" })).toEqual({ format: "hb", references: [blob] });
  });

  it("refuses an entry for another action key or instance (ac_key_mismatch)", () => {
    const bytes = hbEntry(KEY, "main", [{ path: "a", ...blob }]);
    expect(refusal(() => acEntryInfo(bytes, { hash: "b".repeat(64), instance: "main" })).reason).toBe("ac_key_mismatch");
    expect(refusal(() => acEntryInfo(bytes, { hash: KEY, instance: "" })).reason).toBe("ac_key_mismatch");
    expect(refusal(() => acEntryInfo(bytes, { hash: KEY, instance: "pr" })).reason).toBe("ac_key_mismatch");
  });

  const good = () => hbPayload(KEY, "", [{ path: "hb-out/a", ...blob }]);
  const envelope = (e: Record<string, unknown>) => Buffer.from(JSON.stringify(e));
  const payloadB64 = Buffer.from(JSON.stringify(good())).toString("base64");
  it.each<[string, Buffer]>([
    ["another format", envelope({ format: "hb-ac-entry/2", payload: payloadB64, signatures: [{ keyid: "ab", sig: "AAAA" }] })],
    ["no signatures", envelope({ format: "hb-ac-entry/1", payload: payloadB64, signatures: [] })],
    ["a keyid that is not hex", envelope({ format: "hb-ac-entry/1", payload: payloadB64, signatures: [{ keyid: "xyz", sig: "AAAA" }] })],
    ["a payload that is not base64", envelope({ format: "hb-ac-entry/1", payload: "!!!", signatures: [{ keyid: "ab", sig: "AAAA" }] })],
    ["a payload that is not JSON", envelope({ format: "hb-ac-entry/1", payload: "AAAA", signatures: [{ keyid: "ab", sig: "AAAA" }] })],
    [
      "a file hash that is not hex",
      hbEntryFromPayload({
        ...good(),
        result: { ...(good().result as object), files: [{ path: "a", hash: "x", size: 1, executable: false }] },
      }),
    ],
    [
      "a negative size",
      hbEntryFromPayload({
        ...good(),
        result: { ...(good().result as object), files: [{ path: "a", hash: blob.hash, size: -1, executable: false }] },
      }),
    ],
    [
      "a path escaping the output tree",
      hbEntryFromPayload({
        ...good(),
        result: { ...(good().result as object), files: [{ path: "../etc/x", ...blob, executable: false }] },
      }),
    ],
    [
      "an absolute path",
      hbEntryFromPayload({ ...good(), result: { ...(good().result as object), files: [{ path: "/etc/x", ...blob, executable: false }] } }),
    ],
    ["no semanticsVersion", hbEntryFromPayload({ ...good(), semanticsVersion: "1" })],
    ["no result", hbEntryFromPayload({ ...good(), result: undefined })],
    ["invalid UTF-8", Buffer.concat([Buffer.from('{"format":"'), Buffer.from([0xff]), Buffer.from('"}')])],
    ["broken JSON", Buffer.from('{"format": "hb-ac-entry/1",')],
  ])("refuses %s (bad_ac_entry)", (_what, bytes) => {
    expect(refusal(() => acEntryInfo(bytes, { hash: KEY, instance: "" })).reason).toBe("bad_ac_entry");
  });
});

describe("acEntryInfo on Bazel ActionResults", () => {
  it("reads protobuf entries, skipping the empty blob", () => {
    const bytes = encodeActionResult({ files: [{ path: "x", digest: blob }], stdout: empty });
    expect(acEntryInfo(bytes, { hash: KEY, instance: "" })).toEqual({ format: "bazel", references: [blob] });
  });

  it("reads an ActionResult that starts with exit_code, whose tag is a space", () => {
    const bytes = Buffer.concat([varintField(4, 123), encodeActionResult({ stdout: blob })]);
    expect(bytes[0]).toBe(0x20);
    expect(acEntryInfo(bytes, { hash: KEY, instance: "" }).references).toEqual([blob]);
  });

  it("refuses bytes that are neither format", () => {
    expect(refusal(() => acEntryInfo(Buffer.from("hello world"), { hash: KEY, instance: "" })).reason).toBe("bad_ac_entry");
    expect(refusal(() => acEntryInfo(Buffer.from("[1,2]"), { hash: KEY, instance: "" })).reason).toBe("bad_ac_entry");
  });
});
