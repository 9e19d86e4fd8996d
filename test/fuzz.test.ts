// Hostile input never crashes or hangs hb: property-based tests (fast-check) over everything hb
// parses from a stranger. Each input either works or fails as an HbError with a stable code (the
// CLI prints it without a stack trace, exit 2, or 1 for a failed verification); nothing else is
// thrown, and no case takes long. Sizes: HB_FULL_SUITES=1 runs 20 times the cases.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseTokens } from "../packages/cache-server/src/auth/policy";
import { parseTrustedKeys } from "../packages/cache-server/src/auth/trusted-keys";
import { acEntryInfo } from "../packages/cache-server/src/protocol/ac-entry";
import { InvalidAcEntry } from "../packages/cache-server/src/protocol/invalid-entry";
import { encodeActionResult } from "../packages/cache-server/src/testing/protobuf";
import { figure, suiteSize } from "../packages/cache-server/src/testing/suite-size";
import { serializeEnvelope, signEnvelope } from "../packages/core/src/base/dsse";
import { HbError } from "../packages/core/src/base/errors";
import { generateKeyPair } from "../packages/core/src/base/keys";
import { formatLabel, formatTargetPattern, parseLabel, parseTargetPattern } from "../packages/core/src/base/label";
import type { ActionSpec } from "../packages/core/src/base/graph";
import { openAcEntry, signAcEntry } from "../packages/core/src/caching/remote/ac-entry";
import { parseQuery } from "../packages/core/src/commands/query/language";
import { diffArchives, listArchive } from "../packages/core/src/commands/verify/archive-entries";
import { parseLockfile } from "../packages/core/src/fetch/lockfile";
import { IN_TOTO_PAYLOAD_TYPE } from "../packages/core/src/provenance/attestation";
import { verifyAttestation } from "../packages/core/src/provenance/verify";
import { validateConfig } from "../packages/core/src/workspace/config";

const RUNS = suiteSize(300, 6000);
/** No single case may take longer: a regular expression that backtracks, a loop on a length field. */
const SLOW_MS = 1000;

const tally = new Map<string, { cases: number; accepted: number; refused: number; slowestMs: number }>();
afterAll(() => {
  for (const [target, t] of tally)
    figure(
      "fuzz",
      `${target}: ${t.cases} cases, 0 crashes (${t.accepted} accepted, ${t.refused} refused with a clear answer), slowest ${t.slowestMs.toFixed(1)} ms`,
    );
});

/**
 * Runs `parse` on one input: it returns (false: a refusal it answered with), or throws one of
 * `allowed` (HbError codes, or an error class a caller turns into a clear refusal). Anything else
 * fails the property.
 */
function clean(target: string, parse: () => unknown, allowed: { codes?: string[]; classes?: (new (...a: never[]) => Error)[] }): void {
  const t = tally.get(target) ?? { cases: 0, accepted: 0, refused: 0, slowestMs: 0 };
  tally.set(target, t);
  t.cases++;
  const started = performance.now();
  try {
    if (parse() === false) t.refused++;
    else t.accepted++;
  } catch (e) {
    const ok =
      (e instanceof HbError && (allowed.codes ?? []).includes(e.code) && e.message.length > 0) ||
      (allowed.classes ?? []).some((c) => e instanceof c);
    if (!ok) throw e;
    t.refused++;
  } finally {
    const ms = performance.now() - started;
    t.slowestMs = Math.max(t.slowestMs, ms);
    if (ms > SLOW_MS) throw new Error(`${target}: one case took ${ms.toFixed(0)} ms`);
  }
}

/** Strings made mostly of the characters that matter to a grammar, with anything else mixed in. */
const grammar = (chars: string, maxLength = 60) =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...chars.split("")), maxLength }),
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
  );

/** JSON-like values of any shape, with keys from `keys` more often than not. */
const jsonish = (keys: string[]) =>
  fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string()), tie("value"), { maxKeys: 5 }),
    ),
  })).value;

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

describe("labels and target patterns", () => {
  it("parse or refuse with BAD_LABEL; what parses formats back to itself", () => {
    fc.assert(
      fc.property(grammar("/:.-_ab@+*%~ \\0…", 40), grammar("/ab.", 10), (text, pkg) => {
        clean(
          "labels",
          () => {
            const l = parseLabel(text, pkg);
            expect(parseLabel(formatLabel(l))).toEqual(l);
          },
          { codes: ["BAD_LABEL"] },
        );
        clean(
          "target patterns",
          () => {
            const p = parseTargetPattern(text, pkg);
            expect(parseTargetPattern(formatTargetPattern(p))).toEqual(p);
          },
          { codes: ["BAD_LABEL"] },
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the query language", () => {
  it("parses or refuses with QUERY_SYNTAX", () => {
    const token = fc.constantFrom(
      "deps(",
      "rdeps(",
      "kind(",
      ")",
      ",",
      "+",
      "-",
      "^",
      "//a/...",
      "//b:c",
      "'x'",
      '"y',
      "3",
      "-1",
      " ",
      "(",
    );
    const expr = fc.oneof(
      fc.array(token, { maxLength: 30 }).map((t) => t.join("")),
      grammar("()+-^,'\"/:. dk0123456789", 80),
    );
    fc.assert(
      fc.property(expr, (text) => clean("query", () => parseQuery(text), { codes: ["QUERY_SYNTAX", "BAD_LABEL"] })),
      {
        numRuns: RUNS,
      },
    );
  });
});

describe("hb.config.ts settings", () => {
  it("validate or refuse with BAD_CONFIG", () => {
    const keys = ["ignore", "sourceDateEpoch", "sandbox", "npm", "remoteCache", "loading", "registry", "allowUnpinned", "url"];
    const keys2 = [...keys, "instance", "readInstances", "trustedKeys", "timeoutSeconds", "memoryMiB", "*"];
    fc.assert(
      fc.property(jsonish(keys2), (config) =>
        clean("hb.config.ts", () => validateConfig(config, "hb.config.ts"), { codes: ["BAD_CONFIG"] }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe("the server's tokens and trusted keys files", () => {
  it("parse or refuse with BAD_TOKENS_FILE / BAD_TRUSTED_KEYS_FILE, never quoting a token", () => {
    const keys = ["anonymousRead", "tokens", "token", "name", "scopes", "instances", "read", "write", "admin", "*", ""];
    const text = fc.oneof(
      jsonish(keys).map((v) => JSON.stringify(v) ?? "null"),
      grammar('{}[]":,tokens*', 80),
    );
    fc.assert(
      fc.property(text, (t) => {
        clean("tokens file", () => parseTokens(t, "tokens.json"), { codes: ["BAD_TOKENS_FILE"] });
        clean("trusted keys file", () => parseTrustedKeys(t, "/nonexistent/trusted.json"), { codes: ["BAD_TRUSTED_KEYS_FILE"] });
      }),
      { numRuns: RUNS },
    );
  });
});

describe("npm lockfiles", () => {
  const POLICY = {
    registry: "https://registry.npmjs.org",
    allowUnpinned: [],
    pins: new Map<string, string>(),
    platform: { os: "linux", cpu: "x64", libc: "glibc" },
  };
  it("parse or refuse with BAD_LOCKFILE / UNPINNED_DEPENDENCY", () => {
    const keys = ["lockfileVersion", "packages", "", "node_modules/a", "version", "resolved", "integrity", "link", "dependencies", "bin"];
    const text = fc.oneof(
      jsonish(keys).map((v) => JSON.stringify(v) ?? "null"),
      fc
        .dictionary(
          fc.oneof(fc.constantFrom("", "node_modules/a", "node_modules/../../x", "node_modules/@s/b"), fc.string()),
          jsonish(keys),
        )
        .map((packages) => JSON.stringify({ lockfileVersion: 3, packages })),
    );
    fc.assert(
      fc.property(text, (t) =>
        clean("npm lockfile", () => parseLockfile(t, "package-lock.json", POLICY, ""), {
          codes: ["BAD_LOCKFILE", "UNPINNED_DEPENDENCY"],
        }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe("DSSE envelopes and in-toto statements given to hb attest verify", () => {
  const signer = generateKeyPair();
  const artifactDigest = sha("artifact");
  const statementKeys = ["_type", "subject", "predicateType", "predicate", "name", "digest", "sha256", "buildDefinition", "runDetails"];
  it("verify or say which check failed; a malformed bundle is refused, never thrown", () => {
    const signedJunk = jsonish(statementKeys).map((v) =>
      serializeEnvelope(signEnvelope(Buffer.from(JSON.stringify(v) ?? ""), IN_TOTO_PAYLOAD_TYPE, signer.privateKey)),
    );
    const envelopeish = jsonish(["payload", "payloadType", "signatures", "keyid", "sig"]).map((v) => JSON.stringify(v) ?? "");
    const text = fc.oneof(
      signedJunk,
      envelopeish,
      grammar('{}[]":,\n', 200),
      fc.array(signedJunk, { maxLength: 3 }).map((l) => l.join("\n")),
    );
    fc.assert(
      fc.property(text, (envelopeText) =>
        clean(
          "attestation bundles",
          () => {
            const v = verifyAttestation({ artifactDigest, envelopeText, publicKeys: [signer.publicKey] });
            if (!v.ok) expect(v.message.length).toBeGreaterThan(0);
            return v.ok;
          },
          { codes: ["BAD_PROVENANCE"] },
        ),
      ),
      { numRuns: RUNS },
    );
  });
});

describe("AC entries from a remote cache", () => {
  const key = generateKeyPair();
  const action = { owner: "//a:a", outputs: ["hb-out/a/a.out"], outputDirs: [] } as unknown as ActionSpec;
  const actionKey = "a".repeat(64);
  const resultKeys = ["files", "dirs", "exitCode", "path", "hash", "size", "executable", "symlink", "stdout", "stderr"];
  it("the client uses a verified entry or refuses it with a reason, never partly", () => {
    const signed = fc
      .record({ result: jsonish(resultKeys), instance: fc.constantFrom("", "main"), semanticsVersion: fc.integer({ min: 0, max: 3 }) })
      .map((p) => signAcEntry({ actionKey, ...p } as never, key.privateKey));
    const bytes = fc.oneof(
      signed,
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      grammar('{}[]":,', 200).map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(bytes, (b) =>
        clean(
          "AC entries (client)",
          () => {
            const v = openAcEntry(b, { actionKey, instance: "", action }, [key.publicKey]);
            if (v.ok) expect(v.result.files.every((f) => f.path === "hb-out/a/a.out")).toBe(true);
            else expect(v.message.length).toBeGreaterThan(0);
            return v.ok;
          },
          {},
        ),
      ),
      { numRuns: RUNS },
    );
  });

  it("the server takes an hb entry or a Bazel ActionResult, or refuses it (400)", () => {
    const protobuf = fc
      .array(fc.record({ path: fc.string({ maxLength: 20 }), size: fc.nat(), n: fc.nat(1000) }), { maxLength: 4 })
      .map((files) =>
        encodeActionResult({ files: files.map((f) => ({ path: f.path, digest: { hash: sha(String(f.n)), size: f.size } })) }),
      );
    const mutated = fc.tuple(protobuf, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = v;
      return c;
    });
    const bytes = fc.oneof(
      protobuf,
      mutated,
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(bytes, (b) =>
        clean("AC entries (server)", () => acEntryInfo(b, { hash: actionKey, instance: "" }), { classes: [InvalidAcEntry] }),
      ),
      { numRuns: RUNS },
    );
  });
});

describe("archives compared by hb verify", () => {
  /** A ustar header with the given fields, and its checksum. */
  function tarHeader(name: string, size: string, type: string, prefix = "", link = ""): Buffer {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 100), 0, "utf8");
    h.write("0000644\0", 100);
    h.write(size.slice(0, 12), 124, "latin1");
    h.write(type.slice(0, 1), 156, "latin1");
    h.write(link.slice(0, 100), 157, "utf8");
    h.write("ustar\0", 257);
    h.write(prefix.slice(0, 155), 345, "utf8");
    return h;
  }
  it("list an archive or call it none; traversal names, symlinks and huge size fields are only data", () => {
    const entry = fc
      .record({
        name: fc.oneof(fc.constantFrom("../../etc/passwd", "/abs", "a/../../b", "x".repeat(100)), fc.string({ maxLength: 100 })),
        size: fc.oneof(fc.constantFrom("77777777777", "-1", "zz", "00000000010", ""), fc.string({ maxLength: 12 })),
        type: fc.constantFrom("0", "2", "1", "5", "L", "x", "g", "\0", "7"),
        body: fc.uint8Array({ maxLength: 1100 }),
      })
      .map((e) => Buffer.concat([tarHeader(e.name, e.size, e.type, "", "../../outside"), Buffer.from(e.body)]));
    const tar = fc.array(entry, { maxLength: 5 }).map((es) => Buffer.concat(es));
    const zip = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.nat(0xffff), fc.nat()).map(([body, count, offset]) => {
      const eocd = Buffer.alloc(22);
      eocd.writeUInt32LE(0x06054b50, 0);
      eocd.writeUInt16LE(count, 10);
      eocd.writeUInt32LE(offset % 0xffffffff, 16);
      return Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(body), eocd]);
    });
    const archive = fc.oneof(
      tar,
      tar.map((t) => gzipSync(t)),
      zip,
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(archive, archive, (a, b) =>
        clean(
          "tar/zip/tgz members",
          () => {
            const la = listArchive(a);
            const lb = listArchive(b);
            if (la && lb) diffArchives(la, lb);
            return la !== undefined;
          },
          {},
        ),
      ),
      { numRuns: RUNS },
    );
  });

  it("a gzip bomb is not unpacked whole: hb verify says it is no archive it can list", () => {
    const bomb = gzipSync(Buffer.concat([tarHeader("big", "77777777777", "0"), Buffer.alloc(300 << 20)]));
    expect(bomb.length).toBeLessThan(1 << 20);
    const before = process.memoryUsage().rss;
    expect(listArchive(bomb)).toBeUndefined();
    expect(process.memoryUsage().rss - before).toBeLessThan(200 << 20);
  });
});
