import { existsSync } from "node:fs";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decode, encode, schemaRoot } from "./proto";

// Debian's bazel-bootstrap-source ships the reference .proto files (scripts/system-deps.sh --test)
const THIRD_PARTY = "/usr/src/bazel-bootstrap/third_party";

function referenceRoot(): protobuf.Root {
  const dirs = [`${THIRD_PARTY}/remoteapis`, `${THIRD_PARTY}/googleapis`];
  const root = new protobuf.Root();
  // the HTTP annotations are not needed to read field numbers, and need descriptor.proto
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/api/") ? null : (dirs.map((d) => `${d}/${target}`).find((p) => existsSync(p)) ?? target);
  root.loadSync(
    ["build/bazel/remote/execution/v2/remote_execution.proto", "google/bytestream/bytestream.proto", "google/rpc/error_details.proto"],
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

function types(ns: protobuf.NamespaceBase): protobuf.Type[] {
  return ns.nestedArray.flatMap((n) => [...(n instanceof protobuf.Type ? [n] : []), ...(n instanceof protobuf.Namespace ? types(n) : [])]);
}

/** A field's kind as the wire sees it: enums are varints like int32. */
function kind(f: protobuf.Field): string {
  f.resolve();
  if (f.resolvedType instanceof protobuf.Enum) return "int32";
  if (f.resolvedType instanceof protobuf.Type) return f.resolvedType.fullName;
  return f.type;
}

describe("the REAPI messages hb writes from the spec", () => {
  it("have the reference .proto files' field numbers, types and cardinality", () => {
    expect(existsSync(THIRD_PARTY), "install bazel-bootstrap-source: scripts/system-deps.sh --test").toBe(true);
    const reference = referenceRoot();
    const ours = types(schemaRoot());
    expect(ours.length).toBeGreaterThan(40);
    let compared = 0;
    for (const t of ours) {
      // SemVer and google.* types come from other packages of the reference tree
      const ref = reference.lookup(t.fullName.slice(1));
      expect(ref, `${t.fullName} is in the reference`).toBeInstanceOf(protobuf.Type);
      for (const f of t.fieldsArray) {
        const r = (ref as protobuf.Type).fieldsById[f.id];
        // fields newer than Bazel 4.2's copy of the spec (v2.2's compressors) are not in it
        if (!r && t.name === "CacheCapabilities" && f.id >= 6) continue;
        expect(r, `${t.fullName}.${f.name} = ${f.id}`).toBeDefined();
        expect([kind(f), f.repeated], `${t.fullName}.${f.name} = ${f.id}`).toEqual([kind(r!), r!.repeated]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(130);
  });

  it("encode equal messages to equal bytes, defaults left out, in field order", () => {
    const a = encode("build.bazel.remote.execution.v2.Action", {
      platform: { properties: [] },
      do_not_cache: false,
      input_root_digest: { hash: "b".repeat(64), size_bytes: 2 },
      command_digest: { hash: "a".repeat(64), size_bytes: 1 },
    });
    const b = encode("build.bazel.remote.execution.v2.Action", {
      command_digest: { hash: "a".repeat(64), size_bytes: 1 },
      input_root_digest: { hash: "b".repeat(64), size_bytes: 2 },
    });
    expect(a.subarray(0, 2)).toEqual(Buffer.from([0x0a, 68]));
    // an empty platform message is still a present field; the bool at its default is not written
    expect(a.length).toBe(b.length + 2);
    const back = decode("build.bazel.remote.execution.v2.Action", b);
    expect(back.command_digest).toEqual({ hash: "a".repeat(64), size_bytes: 1 });
    expect(back.platform).toBeNull();
    expect(back.salt).toEqual(Buffer.alloc(0));
  });
});
