import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, jwtVerify, SignJWT } from "jose";

/**
 * Anti-theft leases and keyring delegations as JWS (ES256), after OLPC's bios-crypto formats
 * (reference/seed-systems.md §2.5–2.6). Pure: keys come in as JWKs, time as a Date.
 *
 * - A delegation is the master key's statement "this server key may sign leases for serial SN until <exp>":
 *   claims `{sub: SN, iat, exp, cnf: {jwk: <server public key>}}`, header `typ: olpc-delegation+jwt`.
 * - A lease binds `{sn, uuid, disp: "K", iat, exp}`, signed by the server key, header `typ: olpc-lease+jwt` and
 *   `kid`. A lease issued under a delegation carries it in its protected header as `del`, so the chain cannot be
 *   stripped without breaking the lease's own signature; such a lease verifies only through that delegation.
 */

export const LEASE_TYP = "olpc-lease+jwt";
export const DELEGATION_TYP = "olpc-delegation+jwt";
export const SERIAL_RE = /^[A-Z0-9]{11}$/;

export type KeyRole = "server" | "master";
/** A public key as published in the JWKS: the JWK plus its kid, alg, use and the role it plays. */
export type PublishedKey = JWK & { kid: string; alg: "ES256"; use: "sig"; role: KeyRole };

export type ServerKey = { kid: string; privateKey: CryptoKey; publicJwk: PublishedKey };

export type LeaseClaims = { sn: string; uuid: string; disp: string; iat: number; exp: number; iss?: string };
export type VerifiedLease = LeaseClaims & { kid: string; delegated: boolean; delegationExp?: number };
export type DelegationClaims = { sub: string; iat: number; exp: number; cnf: { jwk: JWK } };

export class KeyError extends Error {}

export class LeaseInvalid extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "LeaseInvalid";
  }
}

const P256_FIELDS = ["kty", "crv", "x", "y"] as const;

/** The public half of an EC P-256 JWK, with its RFC 7638 thumbprint as kid. */
export async function publishedKey(jwk: JWK, role: KeyRole): Promise<PublishedKey> {
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    throw new KeyError("must be an EC P-256 JWK");
  }
  const pub = Object.fromEntries(P256_FIELDS.map((k) => [k, jwk[k]])) as JWK;
  const kid = await calculateJwkThumbprint(pub, "sha256");
  return { ...pub, kid, alg: "ES256", use: "sig", role };
}

export async function serverKeyFrom(jwk: JWK): Promise<ServerKey> {
  if (typeof jwk.d !== "string") throw new KeyError("must be a private EC P-256 JWK (with d)");
  const publicJwk = await publishedKey(jwk, "server");
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK({ ...jwk, alg: "ES256" }, "ES256")) as CryptoKey;
  } catch (e) {
    throw new KeyError(`is not a usable ES256 key (${(e as Error).message})`);
  }
  return { kid: publicJwk.kid, privateKey, publicJwk };
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

export async function signLease(key: ServerKey, claims: LeaseClaims, delegation?: string): Promise<string> {
  const header: Record<string, unknown> = { alg: "ES256", kid: key.kid, typ: LEASE_TYP };
  if (delegation) header.del = delegation;
  const { iss, ...rest } = claims;
  const jwt = new SignJWT({ ...rest })
    .setProtectedHeader(header as { alg: string })
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp);
  if (iss) jwt.setIssuer(iss);
  return jwt.sign(key.privateKey);
}

/** Signs a delegation with a master private key (the offline master's job; tests and tools/ use it). */
export async function signDelegation(masterPrivate: JWK, serverPublic: JWK, sn: string, iat: Date, exp: Date): Promise<string> {
  const master = await publishedKey(masterPrivate, "master");
  const key = await importJWK({ ...masterPrivate, alg: "ES256" }, "ES256");
  const cnf = { jwk: Object.fromEntries(P256_FIELDS.map((k) => [k, serverPublic[k]])) };
  return new SignJWT({ cnf })
    .setProtectedHeader({ alg: "ES256", kid: master.kid, typ: DELEGATION_TYP })
    .setSubject(sn)
    .setIssuedAt(seconds(iat))
    .setExpirationTime(seconds(exp))
    .sign(key);
}

function reasonOf(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ERR_JWT_EXPIRED") return "expired";
  if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return "bad signature";
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") return `claim check failed: ${(e as Error).message}`;
  if (e instanceof LeaseInvalid) return e.reason;
  return `malformed: ${(e as Error).message ?? String(e)}`;
}

function keyFor(keys: PublishedKey[], role: KeyRole, kid: unknown): PublishedKey {
  const k = keys.find((x) => x.role === role && x.kid === kid);
  if (!k) throw new LeaseInvalid(`no ${role} key with kid ${String(kid).slice(0, 64)}`);
  return k;
}

/** Verifies a delegation against the published master keys. */
export async function verifyDelegation(token: string, keys: PublishedKey[], now: Date): Promise<DelegationClaims & { masterKid: string }> {
  try {
    const header = decodeProtectedHeader(token);
    const master = keyFor(keys, "master", header.kid);
    const { payload } = await jwtVerify(token, await importJWK(master, "ES256"), {
      algorithms: ["ES256"],
      typ: DELEGATION_TYP,
      currentDate: now,
      requiredClaims: ["sub", "exp", "iat"],
    });
    const cnf = payload.cnf as { jwk?: JWK } | undefined;
    if (!cnf?.jwk || typeof payload.sub !== "string" || !SERIAL_RE.test(payload.sub)) throw new LeaseInvalid("delegation lacks a serial or a cnf key");
    return { sub: payload.sub, iat: payload.iat as number, exp: payload.exp as number, cnf: { jwk: cnf.jwk }, masterKid: master.kid };
  } catch (e) {
    throw new LeaseInvalid(`delegation ${reasonOf(e)}`);
  }
}

export type VerifyOptions = {
  now: Date;
  /** The serial and UUID of the device checking its lease (the XO supplies both from its manufacturing data). */
  serial?: string;
  uuid?: string;
  /** Accept only leases that carry a delegation chain (what an XO's firmware trusts). */
  requireDelegation?: boolean;
};

/**
 * Verifies a lease with the published keys: directly by a server key, or, when it carries a delegation, only
 * through that delegation (master key → unexpired delegation for the same serial → lease signed by the key the
 * delegation names, expiring no later than the delegation). Throws LeaseInvalid with the reason.
 */
export async function verifyLease(token: string, keys: PublishedKey[], opts: VerifyOptions): Promise<VerifiedLease> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (e) {
    throw new LeaseInvalid(reasonOf(e));
  }
  const del = header.del;
  let signer: JWK;
  let delegation: (DelegationClaims & { masterKid: string }) | undefined;
  if (typeof del === "string") {
    delegation = await verifyDelegation(del, keys, opts.now);
    signer = delegation.cnf.jwk;
  } else if (del !== undefined) {
    throw new LeaseInvalid("malformed delegation header");
  } else {
    if (opts.requireDelegation) throw new LeaseInvalid("lease carries no delegation");
    signer = keyFor(keys, "server", header.kid);
  }
  let claims: LeaseClaims;
  try {
    const { payload } = await jwtVerify(token, await importJWK({ ...signer, alg: "ES256" }, "ES256"), {
      algorithms: ["ES256"],
      typ: LEASE_TYP,
      currentDate: opts.now,
      requiredClaims: ["exp", "iat"],
    });
    claims = payload as unknown as LeaseClaims;
  } catch (e) {
    throw new LeaseInvalid(`lease ${reasonOf(e)}`);
  }
  if (typeof claims.sn !== "string" || typeof claims.uuid !== "string") throw new LeaseInvalid("lease lacks sn or uuid");
  if (delegation) {
    if (delegation.sub !== claims.sn) throw new LeaseInvalid("delegation is for another serial");
    if (claims.exp > delegation.exp) throw new LeaseInvalid("lease outlives its delegation");
  }
  if (opts.serial !== undefined && opts.serial !== claims.sn) throw new LeaseInvalid("lease is for another serial");
  if (opts.uuid !== undefined && opts.uuid.toLowerCase() !== claims.uuid.toLowerCase()) throw new LeaseInvalid("lease is for another machine uuid");
  return { ...claims, kid: String(header.kid ?? ""), delegated: delegation !== undefined, delegationExp: delegation?.exp };
}

/** When a lease for `sn` would expire: the configured lifetime, cut to the delegation's end when there is one. */
export function leaseExpiry(now: Date, lifetimeS: number, delegationExpS?: number): number {
  const exp = seconds(now) + lifetimeS;
  return delegationExpS === undefined ? exp : Math.min(exp, delegationExpS);
}

export { seconds as epochSeconds };
