// A DSSE / in-toto verifier that is not hb's code: Python's `cryptography` for Ed25519, PAE and
// the statement checks written from the specs. What hb signs must pass it, and what it rejects
// hb must not have signed.
//   DSSE:      https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md
//   Statement: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
import { spawnSync } from "node:child_process";

const VERIFIER = String.raw`
import base64, hashlib, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

def pae(payload_type, body):
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(body), body)

public_pem, bundle, artifact = sys.argv[1:4]
public = load_pem_public_key(open(public_pem, "rb").read())
digest = hashlib.sha256(open(artifact, "rb").read()).hexdigest()
out = []
for line in open(bundle, encoding="utf-8"):
    if not line.strip():
        continue
    envelope = json.loads(line)
    body = base64.b64decode(envelope["payload"], validate=True)
    verified = False
    for signature in envelope["signatures"]:
        try:
            public.verify(base64.b64decode(signature["sig"], validate=True), pae(envelope["payloadType"], body))
            verified = True
        except InvalidSignature:
            pass
    if not verified:
        sys.exit("no signature verifies with " + public_pem)
    if envelope["payloadType"] != "application/vnd.in-toto+json":
        sys.exit("payloadType is " + envelope["payloadType"])
    statement = json.loads(body)
    if statement["_type"] != "https://in-toto.io/Statement/v1":
        sys.exit("_type is " + str(statement["_type"]))
    if not any(s.get("digest", {}).get("sha256") == digest for s in statement["subject"]):
        sys.exit("the artifact's sha256 " + digest + " is no subject")
    out.append(statement)
print(json.dumps(out))
`;

/**
 * Verifies every envelope of `bundle` with `publicPem` and checks that each holds an in-toto
 * Statement v1 with `artifact`'s sha256 among its subjects; returns the statements. Throws what
 * the verifier said otherwise.
 */
export function verifyIndependently<Statement>(publicPem: string, bundle: string, artifact: string): Statement[] {
  const r = spawnSync("python3", ["-c", VERIFIER, publicPem, bundle, artifact], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    const missing = /No module named 'cryptography'/.test(r.stderr ?? "");
    throw new Error(
      missing
        ? "the independent verifier needs Python's cryptography: bash scripts/system-deps.sh --test (python3-cryptography)"
        : `independent verifier rejected ${bundle}: ${r.error?.message ?? r.stderr.trim()}`,
    );
  }
  return JSON.parse(r.stdout) as Statement[];
}
