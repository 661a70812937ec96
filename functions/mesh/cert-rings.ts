/**
 * The ring count a certificate carries: extension 2.5.13.37 whose value is 4 raw bytes, little-endian (Ifrit's
 * encoding, not DER). A targeted scan of the DER for the extension (OID, optional critical flag, OCTET STRING of
 * length 4) is enough: the object only needs this one number from certificates the CA already verified.
 */
const OID = [0x06, 0x03, 0x55, 0x0d, 0x25];

export function ringsFromCertificate(der: Uint8Array): number | null {
  outer: for (let i = 0; i + OID.length < der.length; i++) {
    for (let j = 0; j < OID.length; j++) if (der[i + j] !== OID[j]) continue outer;
    let at = i + OID.length;
    if (der[at] === 0x01 && der[at + 1] === 0x01) at += 3; // critical BOOLEAN
    if (der[at] !== 0x04 || der[at + 1] !== 0x04 || at + 6 > der.length) return null;
    const v = der[at + 2] | (der[at + 3] << 8) | (der[at + 4] << 16) | (der[at + 5] << 24);
    return v >>> 0;
  }
  return null;
}
