import { describe, expect, it } from "vitest";
import { lenField, varint, varintField } from "../testing/protobuf";
import { WireFormatError, readFields } from "./protobuf-wire";

describe("readFields", () => {
  it("reads varint, length-delimited and fixed-width fields in order", () => {
    const fixed64 = Buffer.concat([varint((3 << 3) | 1), Buffer.alloc(8, 7)]);
    const fixed32 = Buffer.concat([varint((4 << 3) | 5), Buffer.alloc(4, 9)]);
    const fields = [...readFields(Buffer.concat([varintField(1, 150), lenField(2, "hi"), fixed64, fixed32]))];
    expect(fields.map((f) => [f.field, f.wireType])).toEqual([
      [1, 0],
      [2, 2],
      [3, 1],
      [4, 5],
    ]);
    expect(fields[0]!.value).toBe(150n);
    expect(Buffer.from(fields[1]!.value as Uint8Array).toString()).toBe("hi");
  });

  it("reads 64-bit varints, including negative int64 as ten bytes", () => {
    const [f] = [...readFields(varintField(1, -1))];
    expect(f!.value).toBe(2n ** 64n - 1n);
    expect(varintField(1, -1).length).toBe(11);
  });

  it("reads large field numbers", () => {
    const [f] = [...readFields(varintField(2 ** 29 - 1, 1))];
    expect(f!.field).toBe(2 ** 29 - 1);
  });

  it.each([
    ["a truncated varint", Buffer.from([0x08, 0x80])],
    ["an overlong varint", Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])],
    ["a length past the end", Buffer.from([0x12, 0x05, 0x61])],
    ["a truncated fixed64", Buffer.from([0x19, 1, 2, 3])],
    ["a group (wire type 3)", Buffer.from([0x1b])],
    ["wire type 7", Buffer.from([0x0f])],
    ["field number 0", Buffer.from([0x00, 0x01])],
    ["JSON", Buffer.from('{"format":"x"}')],
  ])("refuses %s", (_what, bytes) => {
    expect(() => [...readFields(bytes)]).toThrow(WireFormatError);
  });
});
