// "Any standard DSSE/in-toto verifier must accept it": an independent implementation (Python's
// `cryptography`, with PAE written from the spec) verifies what hb signs, and signs what hb verifies.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateKeyPair, keyId, loadPrivateKey, loadPublicKey, writeKeyPair } from "../base/keys";
import { attestationBundle } from "./attestation";
import { type Envelope, serializeEnvelope } from "../base/dsse";
import { buildProvenanceStatement, serializeStatement } from "./statement";
import { ARTIFACT_SHA256, BUILDER_ID, SOURCE_COMMIT, sampleInput } from "./testing";
import { verifyAttestation } from "./verify";

const PYTHON = String.raw`
import base64, hashlib, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_private_key, load_pem_public_key)

def pae(payload_type, body):
    # https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md#signature-definition
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(body), body)

def b64decode(s):
    # as the spec's reference implementation: standard alphabet, else URL-safe; padding required
    try:
        return base64.b64decode(s, validate=True)
    except ValueError:
        return base64.b64decode(s, altchars=b"-_", validate=True)

mode = sys.argv[1]
if mode == "verify":
    public_pem, private_pem, bundle = sys.argv[2:5]
    public = load_pem_public_key(open(public_pem, "rb").read())
    private = load_pem_private_key(open(private_pem, "rb").read(), password=None)
    assert isinstance(public, Ed25519PublicKey), type(public)
    assert isinstance(private, Ed25519PrivateKey), type(private)
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == spki
    statements = []
    for line in open(bundle, encoding="utf-8"):
        envelope = json.loads(line)
        body = b64decode(envelope["payload"])
        for signature in envelope["signatures"]:
            try:
                public.verify(b64decode(signature["sig"]), pae(envelope["payloadType"], body))
            except InvalidSignature:
                print("INVALID SIGNATURE")
                sys.exit(1)
        statements.append({"payloadType": envelope["payloadType"], "statement": json.loads(body)})
    print(json.dumps({"keyid": hashlib.sha256(spki).hexdigest(), "envelopes": statements}))
elif mode == "sign":
    payload_file, out_dir = sys.argv[2:4]
    key = Ed25519PrivateKey.generate()
    open(out_dir + "/public.pem", "wb").write(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    body = open(payload_file, "rb").read()
    payload_type = "application/vnd.in-toto+json"
    sig = key.sign(pae(payload_type, body))
    for name, encode in (("standard", base64.b64encode), ("urlsafe", base64.urlsafe_b64encode)):
        envelope = {"payload": encode(body).decode(), "payloadType": payload_type,
                    "signatures": [{"sig": encode(sig).decode()}]}
        open(out_dir + "/" + name + ".intoto.jsonl", "w").write(json.dumps(envelope) + "\n")
`;

const hasPythonCryptography = spawnSync("python3", ["-c", "import cryptography"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "hb-interop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function python(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("python3", ["-c", PYTHON, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!hasPythonCryptography)("interoperability with Python's cryptography", () => {
  it("Python verifies hb's envelope with hb's public.pem, recomputing PAE from the spec", () => {
    const keysDir = join(dir, "hb-keys");
    const keys = writeKeyPair(keysDir, generateKeyPair());
    const { privateKeyPath, publicKeyPath } = keys;
    const statement = buildProvenanceStatement(sampleInput());
    const bundle = join(dir, "pkg.tgz.intoto.jsonl");
    writeFileSync(bundle, attestationBundle(statement, loadPrivateKey(privateKeyPath)));

    const r = python("verify", publicKeyPath, privateKeyPath, bundle);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { keyid: string; envelopes: { payloadType: string; statement: unknown }[] };
    expect(out.keyid).toBe(keys.keyId);
    expect(out.envelopes).toEqual([{ payloadType: "application/vnd.in-toto+json", statement }]);

    // and it is a real check: one flipped signature byte makes Python reject it
    const envelope = JSON.parse(readFileSync(bundle, "utf8")) as Envelope;
    const sig = Buffer.from(envelope.signatures[0]!.sig, "base64");
    sig[3]! ^= 0x80;
    envelope.signatures[0]!.sig = sig.toString("base64");
    writeFileSync(bundle, serializeEnvelope(envelope) + "\n");
    const tampered = python("verify", publicKeyPath, privateKeyPath, bundle);
    expect(tampered.status).toBe(1);
    expect(tampered.stdout).toContain("INVALID SIGNATURE");
  });

  it("hb verifies an envelope Python signed with a key it generated, in either base64 alphabet", () => {
    const out = join(dir, "python");
    mkdirSync(out);
    const payloadFile = join(out, "statement.json");
    writeFileSync(payloadFile, serializeStatement(buildProvenanceStatement(sampleInput())));
    const r = python("sign", payloadFile, out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);

    const publicKey = loadPublicKey(join(out, "public.pem"));
    for (const variant of ["standard", "urlsafe"]) {
      const result = verifyAttestation({
        artifactDigest: ARTIFACT_SHA256,
        envelopeText: readFileSync(join(out, `${variant}.intoto.jsonl`), "utf8"),
        publicKeys: [publicKey],
        expectedBuilderId: BUILDER_ID,
        expectedSourceCommit: SOURCE_COMMIT,
      });
      expect(result, variant).toMatchObject({ ok: true, keyId: keyId(publicKey) });
    }
  });
});
