import { describe, expect, it } from "vitest";
import { generateKeyPair, keyId } from "./keys";
import { type Envelope, decodeEnvelope, pae, serializeEnvelope, signEnvelope, verifyEnvelope } from "./dsse";
import { flipByte } from "./testing";

const TYPE = "application/vnd.in-toto+json";
const signer = generateKeyPair();
const other = generateKeyPair();

/** A signed envelope, round-tripped through its JSON form as a reader would get it. */
function signed(payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}')): Envelope {
  return JSON.parse(serializeEnvelope(signEnvelope(payload, TYPE, signer.privateKey))) as Envelope;
}

describe("pae", () => {
  it("matches the worked example of the DSSE protocol spec byte for byte", () => {
    // https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md#test-vectors
    //   SERIALIZED_BODY: hello world
    //   PAYLOAD_TYPE:    http://example.com/HelloWorld
    //   PAE:             DSSEv1 29 http://example.com/HelloWorld 11 hello world
    const bytes = pae("http://example.com/HelloWorld", Buffer.from("hello world"));
    expect(bytes.equals(Buffer.from("DSSEv1 29 http://example.com/HelloWorld 11 hello world", "ascii"))).toBe(true);
  });

  it("counts bytes, not characters, and keeps the separator before an empty body", () => {
    expect(pae("application/vnd.exämple+json", Buffer.from("ab")).toString("utf8")).toBe("DSSEv1 29 application/vnd.exämple+json 2 ab");
    expect(pae(TYPE, Buffer.alloc(0)).toString("utf8")).toBe(`DSSEv1 28 ${TYPE} 0 `);
  });

  it("passes binary bodies through untouched", () => {
    const body = Buffer.from([0x00, 0xff, 0x0a, 0x20]);
    expect(pae("t", body).subarray(-4).equals(body)).toBe(true);
  });
});

describe("decodeEnvelope", () => {
  it("reads the DSSE spec's example envelope", () => {
    const spec = JSON.parse(`{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}`) as unknown;
    const r = decodeEnvelope(spec);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.envelope.payload.toString()).toBe("hello world");
    expect(r.envelope.signatures).toHaveLength(1);
    expect(r.envelope.signatures[0]!.keyid).toBe("");
    expect(r.envelope.signatures[0]!.sig).toHaveLength(64);
  });

  it.each([
    ["a string", "envelope"],
    ["an array", []],
    ["no payloadType", { payload: "", signatures: [] }],
    ["a numeric payload", { payload: 1, payloadType: TYPE, signatures: [] }],
    ["no signatures array", { payload: "", payloadType: TYPE }],
    ["a signature without sig", { payload: "", payloadType: TYPE, signatures: [{ keyid: "k" }] }],
    ["a numeric keyid", { payload: "", payloadType: TYPE, signatures: [{ keyid: 7, sig: "" }] }],
    ["unpadded base64", { payload: "aGVsbG8gd29ybGQ", payloadType: TYPE, signatures: [] }],
    ["stray bits in the last character", { payload: "aGVsbG8gd29ybGR=", payloadType: TYPE, signatures: [] }],
    ["mixed alphabets", { payload: "+_-/", payloadType: TYPE, signatures: [] }],
    ["whitespace in base64", { payload: "aGVs bG8=", payloadType: TYPE, signatures: [] }],
    ["a non-base64 character", { payload: "aGVs*G8=", payloadType: TYPE, signatures: [] }],
    ["a garbage signature", { payload: "", payloadType: TYPE, signatures: [{ sig: "not base64!" }] }],
  ])("rejects %s as a format error", (_, value) => {
    const r = decodeEnvelope(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe("format");
  });

  it("accepts URL-safe base64, which the spec requires of verifiers, and ignores unknown fields", () => {
    const r = decodeEnvelope({ payload: "-_-_Pj8=", payloadType: TYPE, signatures: [{ sig: "", extra: 1 }], note: "x" });
    expect(r.ok).toBe(true);
    if (r.ok) expect([...r.envelope.payload]).toEqual([0xfb, 0xff, 0xbf, 0x3e, 0x3f]);
  });

  it("says which field is broken and quotes it safely", () => {
    const r = decodeEnvelope({ payload: "\u001b[2Jbad", payloadType: TYPE, signatures: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe(`'payload' is not padded base64 (standard or URL-safe alphabet): "\\u001b[2Jbad"`);
  });
});

describe("signEnvelope / verifyEnvelope", () => {
  it("round-trips, naming the key that verified", () => {
    const envelope = signed();
    const r = verifyEnvelope(envelope, [other.publicKey, signer.publicKey]);
    expect(r).toMatchObject({ ok: true, payloadType: TYPE, keyId: keyId(signer.publicKey) });
    if (r.ok) expect(r.payload.toString()).toBe('{"_type":"https://in-toto.io/Statement/v1"}');
  });

  it("writes the spec's field order, standard padded base64 and the signer's key id", () => {
    const line = serializeEnvelope(signEnvelope(Buffer.from("hello world"), TYPE, signer.privateKey));
    expect(line).not.toContain("\n");
    const parsed = JSON.parse(line) as Envelope;
    expect(Object.keys(parsed)).toEqual(["payload", "payloadType", "signatures"]);
    expect(Object.keys(parsed.signatures[0]!)).toEqual(["keyid", "sig"]);
    expect(parsed.payload).toBe("aGVsbG8gd29ybGQ=");
    expect(parsed.signatures[0]!.sig).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(parsed.signatures[0]!.keyid).toBe(keyId(signer.publicKey));
  });

  it("fails the signature when one byte of the payload changes", () => {
    const envelope = signed();
    envelope.payload = flipByte(envelope.payload, 5);
    const r = verifyEnvelope(envelope, [signer.publicKey]);
    expect(r).toMatchObject({ ok: false, reason: "signature" });
    if (!r.ok) expect(r.message).toContain("altered after signing");
  });

  it("fails the signature when one byte of the signature changes", () => {
    const envelope = signed();
    envelope.signatures[0]!.sig = flipByte(envelope.signatures[0]!.sig, 10);
    expect(verifyEnvelope(envelope, [signer.publicKey])).toMatchObject({ ok: false, reason: "signature" });
  });

  it("fails the signature when the payload type is swapped: PAE binds it", () => {
    const envelope = signed();
    envelope.payloadType = "application/vnd.example+json";
    expect(verifyEnvelope(envelope, [signer.publicKey])).toMatchObject({ ok: false, reason: "signature" });
  });

  it("fails the signature with a wrong key, naming the signer's key as untrusted", () => {
    const r = verifyEnvelope(signed(), [other.publicKey]);
    expect(r).toMatchObject({ ok: false, reason: "signature" });
    if (!r.ok) {
      expect(r.message).toContain(`signed by key ${keyId(signer.publicKey).slice(0, 16)}`);
      expect(r.message).toContain(`which is not trusted (trusted key ${keyId(other.publicKey).slice(0, 16)})`);
    }
  });

  it("never trusts a key id: a forged keyid does not make a signature valid", () => {
    const envelope = signed();
    envelope.signatures[0]!.keyid = keyId(other.publicKey);
    expect(verifyEnvelope(envelope, [other.publicKey])).toMatchObject({ ok: false, reason: "signature" });
    // and a wrong or missing keyid does not make a valid signature fail
    delete envelope.signatures[0]!.keyid;
    expect(verifyEnvelope(envelope, [signer.publicKey])).toMatchObject({ ok: true });
  });

  it("rejects an envelope without signatures", () => {
    const envelope = signed();
    envelope.signatures = [];
    expect(verifyEnvelope(envelope, [signer.publicKey])).toMatchObject({
      ok: false,
      reason: "signature",
      message: "the envelope carries no signatures",
    });
  });

  it("accepts any one valid signature among several", () => {
    const envelope = signed();
    envelope.signatures.unshift({ keyid: "", sig: Buffer.alloc(64).toString("base64") });
    expect(verifyEnvelope(envelope, [signer.publicKey])).toMatchObject({ ok: true });
  });
});
