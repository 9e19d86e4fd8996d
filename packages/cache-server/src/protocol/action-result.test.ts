import { describe, expect, it } from "vitest";
import { digestOf, encodeActionResult, encodeDigest, lenField, varintField } from "../testing/protobuf";
import { actionResultReferences } from "./action-result";
import { InvalidAcEntry } from "./invalid-entry";

const out = digestOf("output bytes");
const tree = digestOf("a Tree message");
const stdout = digestOf("stdout text");
const stderr = digestOf("stderr text");

describe("actionResultReferences", () => {
  it("finds output files, output directory trees and stdout/stderr digests", () => {
    const bytes = encodeActionResult({
      files: [{ path: "bazel-out/k8-fastbuild/bin/x.txt", digest: out, executable: true }],
      dirs: [{ path: "bazel-out/k8-fastbuild/bin/d", tree }],
      exitCode: 0,
      stdout,
      stderr,
      metadataWorker: "host",
    });
    expect(actionResultReferences(bytes)).toEqual([out, tree, stdout, stderr]);
  });

  it("keeps size 0 digests (the caller skips the empty blob)", () => {
    const empty = digestOf("");
    expect(actionResultReferences(encodeActionResult({ files: [{ path: "e", digest: empty }] }))).toEqual([empty]);
  });

  it("skips fields of nested messages it does not need (newer OutputFile fields)", () => {
    const file = Buffer.concat([lenField(1, "p"), lenField(2, encodeDigest(out)), lenField(7, lenField(1, "props"))]);
    expect(actionResultReferences(lenField(2, file))).toEqual([out]);
  });

  it.each([
    ["empty bytes", Buffer.alloc(0)],
    ["an unknown top-level field", Buffer.concat([lenField(2, lenField(2, encodeDigest(out))), varintField(20, 1)])],
    ["field 1 (reserved)", lenField(1, "x")],
    ["exit_code sent as bytes", lenField(4, "x")],
    ["an output file without a digest", lenField(2, lenField(1, "p"))],
    ["a digest whose hash is not hex", lenField(6, Buffer.concat([lenField(1, "Z".repeat(64)), varintField(2, 3)]))],
    ["a digest whose hash is uppercase", lenField(6, Buffer.concat([lenField(1, out.hash.toUpperCase()), varintField(2, 3)]))],
    ["a negative size", lenField(6, Buffer.concat([lenField(1, out.hash), varintField(2, -5)]))],
    ["a digest with an extra field", lenField(6, Buffer.concat([encodeDigest(out), varintField(3, 1)]))],
    ["truncated bytes", encodeActionResult({ files: [{ path: "x", digest: out }] }).subarray(0, 20)],
    ["random text", Buffer.from("this is not a protobuf at all")],
  ])("refuses %s", (_what, bytes) => {
    expect(() => actionResultReferences(bytes)).toThrow(InvalidAcEntry);
  });
});
