// Test support shared by the tests of base/ and later stages. Not exported.

/** `base64` with one bit of its `index`th decoded byte flipped: the smallest possible tampering. */
export function flipByte(base64: string, index: number): string {
  const bytes = Buffer.from(base64, "base64");
  bytes[index]! ^= 0x01;
  return bytes.toString("base64");
}
