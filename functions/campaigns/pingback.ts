import { base64url, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock";
import { ApiError } from "../lib/errors";

/**
 * Pingback links: PUBLIC_BASE_URL + /api/v1/pingback/<JWT>. The JWT (HS256 with the JWT secret) has its own
 * audience, so a pingback token is never accepted as a login token and the other way round. It names the probe
 * and either a task or an alert (job); holding the link is what lets the probe read and answer that one thing.
 *
 * The link travels through push providers (gorush, FCM, APNs) and sits in device notification logs, so the probe's
 * client_id (a passwordless probe's only credential, docs/security.md) is never in it in clear: the `sub` claim is
 * the client_id sealed with AES-256-GCM under a key derived from the JWT secret by HKDF (its own `info`, so the key
 * is used for nothing else). The JWS signature still covers every claim; the seal only hides the one value.
 */
const AUDIENCE = "edge-orchestra/pingback";
const ISSUER = "edge-orchestra";

export type PingbackClaims = { probeId: string } & ({ kind: "task"; taskId: string } | { kind: "alert"; jobId: string });

const SEAL_INFO = new TextEncoder().encode("edge-orchestra/pingback/probe-id");
const SEAL_AAD = new TextEncoder().encode("pingback-sub");
const sealKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function sealKey(secret: Uint8Array): Promise<CryptoKey> {
  let k = sealKeys.get(secret);
  if (!k) {
    k = (async () => {
      const ikm = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: SEAL_INFO },
        ikm,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    sealKeys.set(secret, k);
  }
  return k;
}

/** The probe id sealed (base64url of a random 96-bit IV + AES-GCM ciphertext and tag): a fresh value per link. */
export async function sealProbeId(probeId: string, secret: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: SEAL_AAD }, await sealKey(secret), new TextEncoder().encode(probeId)),
  );
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return base64url.encode(out);
}

/** The probe id of a sealed value, or null when it was not sealed with this secret (or was altered). */
export async function openProbeId(sealed: string, secret: Uint8Array): Promise<string | null> {
  try {
    const raw = base64url.decode(sealed);
    if (raw.length < 12 + 16 + 1) return null;
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: raw.slice(0, 12), additionalData: SEAL_AAD }, await sealKey(secret), raw.slice(12));
    return new TextDecoder().decode(pt);
  } catch {
    return null;
  }
}

export async function signPingback(claims: PingbackClaims, secret: Uint8Array, clock: Clock, ttlS: number): Promise<string> {
  const nowS = Math.floor(clock.now().getTime() / 1000);
  const body = claims.kind === "task" ? { k: "task", tid: claims.taskId } : { k: "alert", jid: claims.jobId };
  return new SignJWT(body)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(await sealProbeId(claims.probeId, secret))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ttlS)
    .sign(secret);
}

/** Expired → 410 gone (the link was real); anything else wrong → 401. */
export async function verifyPingback(token: string, secret: Uint8Array, clock: Clock): Promise<PingbackClaims> {
  try {
    const { payload } = await jwtVerify(token, secret, { audience: AUDIENCE, issuer: ISSUER, algorithms: ["HS256"], currentDate: clock.now() });
    const sub = typeof payload.sub === "string" ? await openProbeId(payload.sub, secret) : null;
    if (typeof sub === "string" && payload.k === "task" && typeof payload.tid === "string") return { probeId: sub, kind: "task", taskId: payload.tid };
    if (typeof sub === "string" && payload.k === "alert" && typeof payload.jid === "string") return { probeId: sub, kind: "alert", jobId: payload.jid };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) throw new ApiError("gone", "this pingback link has expired: fetch your tasks with GET /api/v1/tasks");
  }
  throw new ApiError("invalid_token", "this pingback link is not valid");
}

export function pingbackUrl(base: string, token: string, action?: "accept" | "reject" | "done"): string {
  return `${base}/api/v1/pingback/${token}${action ? `/${action}` : ""}`;
}
