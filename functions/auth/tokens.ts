import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock";
import { rfc3339 } from "../lib/clock";
import { ApiError } from "../lib/errors";
import type { Settings } from "../lib/settings";

/** Who is calling: an operator (with a role) or a probe/device (role "probe"). One token format for both. */
export type Role = "admin" | "operator" | "viewer" | "probe";
export type Principal = { sub: string; role: Role };

const ISSUER = "edge-orchestra";
const AUDIENCE = "edge-orchestra";
const ROLES: readonly Role[] = ["admin", "operator", "viewer", "probe"];

export async function issueToken(p: Principal, settings: Settings, clock: Clock): Promise<{ token: string; expire: string }> {
  const nowS = Math.floor(clock.now().getTime() / 1000);
  const ttl = p.role === "probe" ? settings.probeTokenTtlS : settings.operatorTokenTtlS;
  const exp = nowS + ttl;
  const token = await new SignJWT({ role: p.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(p.sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(nowS)
    .setExpirationTime(exp)
    .sign(settings.jwtSecret);
  return { token, expire: rfc3339(new Date(exp * 1000)) };
}

export async function verifyToken(token: string, settings: Settings, clock: Clock): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, settings.jwtSecret, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["HS256"],
      currentDate: clock.now(),
    });
    const role = payload.role as Role;
    if (typeof payload.sub !== "string" || !ROLES.includes(role)) throw new ApiError("invalid_token", "token is not valid");
    return { sub: payload.sub, role };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw new ApiError("invalid_token", "token has expired");
    throw new ApiError("invalid_token", "token is not valid");
  }
}
