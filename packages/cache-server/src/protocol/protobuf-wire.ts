// A reader for the protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
// enough to walk a message's fields without its schema. Strict: anything a conforming encoder
// cannot produce (a truncated field, an overlong varint, a group, field number 0) is an error,
// so arbitrary bytes are refused rather than read as some message.

export type WireField =
  | { readonly field: number; readonly wireType: 0; readonly value: bigint }
  | { readonly field: number; readonly wireType: 1 | 5; readonly value: Uint8Array }
  | { readonly field: number; readonly wireType: 2; readonly value: Uint8Array };

export class WireFormatError extends Error {
  override readonly name = "WireFormatError";
}

const MAX_FIELD_NUMBER = 2 ** 29 - 1;

function readVarint(buf: Uint8Array, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < buf.length && pos - start < 10; pos++) {
    const byte = buf[pos]!;
    // the tenth byte can only hold the top bit of a 64-bit value
    if (pos - start === 9 && byte > 1) break;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: pos + 1 };
    shift += 7n;
  }
  throw new WireFormatError(`bad varint at byte ${start}`);
}

/** The fields of one message, in wire order (repeated fields appear once per element). */
export function* readFields(buf: Uint8Array): Generator<WireField> {
  let pos = 0;
  while (pos < buf.length) {
    const tag = readVarint(buf, pos);
    if (tag.value > BigInt(MAX_FIELD_NUMBER) * 8n + 7n) throw new WireFormatError(`tag out of range at byte ${pos}`);
    const field = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n);
    if (field === 0) throw new WireFormatError(`field number 0 at byte ${pos}`);
    pos = tag.next;
    switch (wireType) {
      case 0: {
        const v = readVarint(buf, pos);
        pos = v.next;
        yield { field, wireType, value: v.value };
        break;
      }
      case 1:
      case 5: {
        const width = wireType === 1 ? 8 : 4;
        if (pos + width > buf.length) throw new WireFormatError(`truncated fixed-width field ${field}`);
        yield { field, wireType, value: buf.subarray(pos, pos + width) };
        pos += width;
        break;
      }
      case 2: {
        const len = readVarint(buf, pos);
        if (len.value > BigInt(buf.length - len.next)) throw new WireFormatError(`field ${field} runs past the end of the message`);
        const end = len.next + Number(len.value);
        yield { field, wireType, value: buf.subarray(len.next, end) };
        pos = end;
        break;
      }
      default:
        throw new WireFormatError(`wire type ${wireType} (field ${field}) is not used by proto3 messages`);
    }
  }
}
