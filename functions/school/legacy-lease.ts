/**
 * The OLPC activation lease as text, for XO firmware (reference/seed-systems.md §2.5):
 *   `act01: <SN> K <EXPIRY> sig01: sha256 <KEYID> <HEXSIG>\n`
 * where the signature is RSASSA-PSS (SHA-256, MGF1-SHA-256, salt length 8) over `SN:UUID:K:EXPIRY`, EXPIRY is
 * `YYYYMMDDTHHMMSSZ`, and KEYID is the last 32 bytes (64 hex characters) of the signer's DER RSAPublicKey.
 * The salt length and key id follow bios-crypto's signer and verifier: docs/decisions/0007-olpc-lease-signature.md.
 * Pure: WebCrypto only.
 */

export const PSS_SALT_LENGTH = 8;
const ALG = { name: "RSA-PSS", hash: "SHA-256" } as const;

export type RsaLeaseKey = { privateKey: CryptoKey; publicKey: CryptoKey; key01Hex: string; keyId: string };

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const fromB64Url = (s: string) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function derInteger(unsigned: Uint8Array): number[] {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const body = Array.from(unsigned.subarray(i));
  if (body[0] & 0x80) body.unshift(0);
  return [0x02, ...derLength(body.length), ...body];
}

/** PKCS#1 A.1.1 RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, as bios-crypto's key01 holds it. */
export function rsaPublicKeyDer(n: Uint8Array, e: Uint8Array): Uint8Array {
  const body = [...derInteger(n), ...derInteger(e)];
  return Uint8Array.from([0x30, ...derLength(body.length), ...body]);
}

function pemBody(pem: string): Uint8Array {
  const b64 = pem
    .replace(/\\n/g, "\n")
    .replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "")
    .replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Imports the RSA signing key from a PKCS#8 PEM or a private JWK (JSON). Throws Error with a reason. */
export async function rsaLeaseKeyFrom(raw: string): Promise<RsaLeaseKey> {
  const text = raw.trim();
  let privateKey: CryptoKey;
  if (text.startsWith("{")) {
    const jwk = JSON.parse(text) as JsonWebKey;
    if (jwk.kty !== "RSA" || !jwk.d) throw new Error("must be a private RSA JWK");
    const { alg: _alg, key_ops: _ops, ...rest } = jwk;
    privateKey = await crypto.subtle.importKey("jwk", rest, ALG, true, ["sign"]);
  } else if (text.includes("BEGIN PRIVATE KEY")) {
    privateKey = await crypto.subtle.importKey("pkcs8", pemBody(text), ALG, true, ["sign"]);
  } else {
    throw new Error("must be a PKCS#8 PEM (BEGIN PRIVATE KEY) or a private RSA JWK");
  }
  const jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e }, ALG, true, ["verify"]);
  const der = rsaPublicKeyDer(fromB64Url(jwk.n ?? ""), fromB64Url(jwk.e ?? ""));
  const key01Hex = hex(der);
  return { privateKey, publicKey, key01Hex, keyId: key01Hex.slice(-64) };
}

/** `YYYYMMDDTHHMMSSZ` in UTC. */
export function olpcTime(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

export function signedPayload(sn: string, uuid: string, expiry: string): string {
  return `${sn}:${uuid}:K:${expiry}`;
}

export async function legacyLease(key: RsaLeaseKey, sn: string, uuid: string, expiry: Date): Promise<string> {
  const exp = olpcTime(expiry);
  const sig = await crypto.subtle.sign(
    { name: "RSA-PSS", saltLength: PSS_SALT_LENGTH },
    key.privateKey,
    new TextEncoder().encode(signedPayload(sn, uuid, exp)),
  );
  return `act01: ${sn} K ${exp} sig01: sha256 ${key.keyId} ${hex(new Uint8Array(sig))}\n`;
}

const LINE_RE = /^act01: ([A-Z0-9]{11}) (K) (\d{8}T\d{6}Z) sig01: sha256 ([0-9a-f]{64}) ([0-9a-f]+)$/;

export type ParsedLegacyLease = { sn: string; disp: string; expiry: string; keyId: string; signature: Uint8Array };

export function parseLegacyLease(line: string): ParsedLegacyLease | null {
  const m = LINE_RE.exec(line.trim());
  if (!m) return null;
  return { sn: m[1], disp: m[2], expiry: m[3], keyId: m[4], signature: fromHex(m[5]) };
}

/** Our own verifier (round trip): the key id must match and the PSS signature must hold for this machine's UUID. */
export async function verifyLegacyLease(line: string, key: { publicKey: CryptoKey; keyId: string }, uuid: string): Promise<boolean> {
  const p = parseLegacyLease(line);
  if (!p || p.keyId !== key.keyId) return false;
  return crypto.subtle.verify(
    { name: "RSA-PSS", saltLength: PSS_SALT_LENGTH },
    key.publicKey,
    p.signature,
    new TextEncoder().encode(signedPayload(p.sn, uuid, p.expiry)),
  );
}
