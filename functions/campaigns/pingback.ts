import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock";
import { ApiError } from "../lib/errors";

/**
 * Pingback links: PUBLIC_BASE_URL + /api/v1/pingback/<JWT>. The JWT (HS256 with the JWT secret) has its own
 * audience, so a pingback token is never accepted as a login token and the other way round. It names the probe
 * and either a task or an alert (job); holding the link is what lets the probe read and answer that one thing.
 */
const AUDIENCE = "edge-orchestra/pingback";
const ISSUER = "edge-orchestra";

export type PingbackClaims = { probeId: string } & ({ kind: "task"; taskId: string } | { kind: "alert"; jobId: string });

export async function signPingback(claims: PingbackClaims, secret: Uint8Array, clock: Clock, ttlS: number): Promise<string> {
  const nowS = Math.floor(clock.now().getTime() / 1000);
  const body = claims.kind === "task" ? { k: "task", tid: claims.taskId } : { k: "alert", jid: claims.jobId };
  return new SignJWT(body)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.probeId)
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
    const sub = payload.sub;
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
