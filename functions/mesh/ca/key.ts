import { fromBase64, pemBlock } from "./bytes";

/** The CA's signing key pair: ECDSA P-256, from the MESH_CA_KEY secret (PKCS#8 PEM, or a private JWK as JSON). */
export type CaKey = { privateKey: CryptoKey; publicKey: CryptoKey; spkiDer: Uint8Array };

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

export class CaKeyError extends Error {}

export async function importCaKey(secret: string): Promise<CaKey> {
  const text = secret.trim();
  let privateKey: CryptoKey;
  try {
    if (text.startsWith("{")) {
      const jwk = JSON.parse(text) as JsonWebKey;
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) throw new CaKeyError("not a private EC P-256 JWK");
      privateKey = await crypto.subtle.importKey("jwk", { ...jwk, key_ops: ["sign"] }, EC, true, ["sign"]);
    } else {
      const der = pemBlock(text.replace(/\\n/g, "\n"), ["PRIVATE KEY"]) ?? (/^[A-Za-z0-9+/=\s]+$/.test(text) ? fromBase64(text.replace(/\s+/g, "")) : null);
      if (!der) throw new CaKeyError("not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
      privateKey = await crypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
    }
  } catch (e) {
    if (e instanceof CaKeyError) throw e;
    throw new CaKeyError(`not a P-256 private key (${(e as Error).message})`);
  }
  // The public half comes from the private JWK (x, y), so one secret holds the whole pair.
  const { kty, crv, x, y } = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
  const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, EC, true, ["verify"]);
  const spkiDer = new Uint8Array((await crypto.subtle.exportKey("spki", publicKey)) as ArrayBuffer);
  return { privateKey, publicKey, spkiDer };
}
