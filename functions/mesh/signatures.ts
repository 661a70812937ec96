import type { MeshNamedCurve } from "./member-record";

/**
 * Members sign with their certificate's ECDSA key over SHA-256 of the content (as Ifrit's Sign does), whatever
 * the curve. Signatures travel as standard base64 of either the DER SEQUENCE{r, s} that Go's ecdsa.SignASN1
 * makes, or the raw fixed-width r‖s (IEEE P1363) that WebCrypto makes: both are accepted.
 */

const FIELD_BYTES: Record<MeshNamedCurve, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };

export function b64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToB64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function derLength(b: Uint8Array, at: number): { len: number; next: number } | null {
  if (at >= b.length) return null;
  const first = b[at];
  if (first < 0x80) return { len: first, next: at + 1 };
  const n = first & 0x7f;
  if (n === 0 || n > 2 || at + n >= b.length) return null;
  let len = 0;
  for (let i = 1; i <= n; i++) len = (len << 8) | b[at + i];
  return { len, next: at + 1 + n };
}

/** DER ECDSA-Sig-Value → raw r‖s of the curve's width, or null when `sig` is not exactly that DER. */
export function derToRaw(sig: Uint8Array, curve: MeshNamedCurve): Uint8Array | null {
  const size = FIELD_BYTES[curve];
  if (sig[0] !== 0x30) return null;
  const seq = derLength(sig, 1);
  if (!seq || seq.next + seq.len !== sig.length) return null;
  let at = seq.next;
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    if (sig[at] !== 0x02) return null;
    const l = derLength(sig, at + 1);
    if (!l || l.len === 0 || l.next + l.len > sig.length) return null;
    let int = sig.subarray(l.next, l.next + l.len);
    while (int.length > 1 && int[0] === 0) int = int.subarray(1);
    if (int.length > size) return null;
    out.set(int, part * size + (size - int.length));
    at = l.next + l.len;
  }
  return at === sig.length ? out : null;
}

/** The signature as WebCrypto wants it (raw r‖s), from DER or raw; null when it is neither. */
export function normaliseSignature(sig: Uint8Array, curve: MeshNamedCurve): Uint8Array | null {
  const der = derToRaw(sig, curve);
  if (der) return der;
  return sig.length === FIELD_BYTES[curve] * 2 ? sig : null;
}

export async function importMemberKey(spkiB64: string, curve: MeshNamedCurve): Promise<CryptoKey> {
  return crypto.subtle.importKey("spki", b64ToBytes(spkiB64), { name: "ECDSA", namedCurve: curve }, false, ["verify"]);
}

/** VerifySignature: ECDSA-SHA256 of `content` under `key`. Never throws: a malformed signature is simply false. */
export async function verifyWith(key: CryptoKey, curve: MeshNamedCurve, content: Uint8Array, sigB64: string): Promise<boolean> {
  let raw: Uint8Array | null;
  try {
    raw = normaliseSignature(b64ToBytes(sigB64), curve);
  } catch {
    return false;
  }
  if (!raw) return false;
  try {
    return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, content);
  } catch {
    return false;
  }
}

const enc = new TextEncoder();

/**
 * JCS (RFC 8785) of a flat object of strings and safe integers: keys sorted, no whitespace. Notes and
 * accusations are signed over this form; each carries a `type` and the group so that no signature made for one
 * purpose verifies for another.
 */
export function canonical(obj: Record<string, string | number>): Uint8Array {
  const keys = Object.keys(obj).sort();
  return enc.encode(`{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(",")}}`);
}

export type NoteBody = { id: string; epoch: number; mask: number };
export type AccusationBody = { accused: string; accuser: string; epoch: number; ring: number };

export const noteContent = (group: string, n: NoteBody) => canonical({ type: "mesh-note", group, id: n.id, epoch: n.epoch, mask: n.mask });
export const accusationContent = (group: string, a: AccusationBody) =>
  canonical({ type: "mesh-accusation", group, accused: a.accused, accuser: a.accuser, epoch: a.epoch, ring: a.ring });
/** What a connecting member signs to prove it holds its certificate's key. */
export const challengeContent = (group: string, id: string, nonce: string) => canonical({ type: "mesh-connect", group, id, nonce });
/** What a pinged member signs (Ifrit signs the raw ping; the nonce here is the object's random 32 bytes, base64). */
export const pongContent = (group: string, nonce: string) => canonical({ type: "mesh-pong", group, nonce });
/**
 * The signed request header of the member HTTP routes: `X-Mesh-Member: <id>`, `X-Mesh-Timestamp: <unix s>`,
 * `X-Mesh-Signature: <b64>` over this, with the hex SHA-256 of the body.
 */
export const requestContent = (group: string, method: string, path: string, ts: number, bodySha256Hex: string) =>
  canonical({ type: "mesh-request", group, method: method.toUpperCase(), path, ts, body: bodySha256Hex });
