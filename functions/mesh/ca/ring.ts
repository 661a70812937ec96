/** Ifrit's ring-count extension: OID 2.5.13.37, non-critical, value = the count as exactly 4 raw little-endian bytes. */
export const RING_OID = "2.5.13.37";

export function ringBytes(numRings: number): Uint8Array {
  if (!Number.isInteger(numRings) || numRings < 1 || numRings > 0xffffffff) throw new RangeError("ring count must be a positive 32-bit integer");
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, numRings, true);
  return out;
}

/** The count back from the extension's value; null unless it is exactly 4 bytes, as Ifrit's client requires. */
export function ringCount(value: Uint8Array): number | null {
  if (value.length !== 4) return null;
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
}
