import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../lib/clock";
import { rfc3339 } from "../lib/clock";
import { ApiError } from "../lib/errors";
import type { Settings } from "../lib/settings";

/**
 * Who is calling. `kind` says what sort of principal it is; operators carry a `role`, every other kind has its
 * kind as its role (so `role === "probe"` and `kind === "probe"` agree). Mesh members are scoped to a `group`.
 */
export type OperatorRole = "admin" | "operator" | "viewer";
export type PrincipalKind = "operator" | "probe" | "agent" | "school" | "member";
export type DeviceKind = Exclude<PrincipalKind, "operator">;
export type Role = OperatorRole | DeviceKind;
export type Principal = { kind: PrincipalKind; sub: string; role: Role; group?: string };

const ISSUER = "edge-orchestra";
/** Tokens issued before principal kinds carried this single audience; they are read as operator or probe tokens. */
const LEGACY_AUDIENCE = "edge-orchestra";
const KINDS: readonly PrincipalKind[] = ["operator", "probe", "agent", "school", "member"];
const OPERATOR_ROLES: readonly string[] = ["admin", "operator", "viewer"];
const audienceOf = (kind: PrincipalKind) => `edge-orchestra:${kind}`;

export const operatorPrincipal = (sub: string, role: OperatorRole): Principal => ({ kind: "operator", sub, role });
export const devicePrincipal = (kind: DeviceKind, sub: string, group?: string): Principal => ({ kind, sub, role: kind, ...(group ? { group } : {}) });

/** Operators' tokens are short-lived; devices (probes, agents, members, school servers) keep theirs longer. */
function ttlOf(p: Principal, settings: Settings): number {
  return p.kind === "operator" ? settings.operatorTokenTtlS : settings.probeTokenTtlS;
}

/**
 * What revocation needs from a token besides its principal: the principal's version it was issued under (`ver`;
 * tokens from before versions read as 0), its id (`jti`, for single-token logout; absent on old tokens), its expiry,
 * and for the bootstrap admin a stamp of the ADMIN_PASSWORD it was issued under (`adp`).
 */
export type TokenClaims = { principal: Principal; ver: number; jti: string | null; exp: number; adp: string | null };

export type IssueOptions = { ver?: number; adminStamp?: string };

export async function issueToken(p: Principal, settings: Settings, clock: Clock, o: IssueOptions = {}): Promise<{ token: string; expire: string }> {
  const nowS = Math.floor(clock.now().getTime() / 1000);
  const exp = nowS + ttlOf(p, settings);
  const token = await new SignJWT({
    kind: p.kind,
    role: p.role,
    ver: o.ver ?? 0,
    ...(p.group ? { grp: p.group } : {}),
    ...(o.adminStamp ? { adp: o.adminStamp } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(p.sub)
    .setIssuer(ISSUER)
    .setAudience(audienceOf(p.kind))
    .setIssuedAt(nowS)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(settings.jwtSecret);
  return { token, expire: rfc3339(new Date(exp * 1000)) };
}

/** Reads a token's principal from its claims; anything inconsistent (kind vs audience vs role) is not valid. */
export function principalFromClaims(claims: { sub?: unknown; aud?: unknown; kind?: unknown; role?: unknown; grp?: unknown }): Principal | null {
  if (typeof claims.sub !== "string" || claims.sub === "") return null;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (aud.length !== 1 || typeof aud[0] !== "string") return null;
  const role = claims.role;
  if (aud[0] === LEGACY_AUDIENCE && claims.kind === undefined) {
    if (role === "probe") return devicePrincipal("probe", claims.sub);
    if (typeof role === "string" && OPERATOR_ROLES.includes(role)) return operatorPrincipal(claims.sub, role as OperatorRole);
    return null;
  }
  const kind = claims.kind as PrincipalKind;
  if (!KINDS.includes(kind) || aud[0] !== audienceOf(kind)) return null;
  if (kind === "operator") return typeof role === "string" && OPERATOR_ROLES.includes(role) ? operatorPrincipal(claims.sub, role as OperatorRole) : null;
  if (role !== kind) return null;
  if (kind === "member" && (typeof claims.grp !== "string" || claims.grp === "")) return null;
  return devicePrincipal(kind, claims.sub, typeof claims.grp === "string" ? claims.grp : undefined);
}

export async function verifyTokenClaims(token: string, settings: Settings, clock: Clock): Promise<TokenClaims> {
  try {
    const { payload } = await jwtVerify(token, settings.jwtSecret, {
      issuer: ISSUER,
      audience: [LEGACY_AUDIENCE, ...KINDS.map(audienceOf)],
      algorithms: ["HS256"],
      currentDate: clock.now(),
      requiredClaims: ["exp"],
    });
    const p = principalFromClaims(payload as Parameters<typeof principalFromClaims>[0]);
    const ver = payload.ver === undefined ? 0 : payload.ver;
    if (!p || typeof ver !== "number" || !Number.isSafeInteger(ver) || ver < 0) throw new ApiError("invalid_token", "token is not valid");
    const jti = typeof payload.jti === "string" && payload.jti !== "" && payload.jti.length <= 64 ? payload.jti : null;
    return { principal: p, ver, jti, exp: payload.exp as number, adp: typeof payload.adp === "string" ? payload.adp : null };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw new ApiError("invalid_token", "token has expired");
    throw new ApiError("invalid_token", "token is not valid");
  }
}

/** The token's principal when its signature, issuer, audience and expiry hold (revocation is resolvePrincipal's). */
export async function verifyToken(token: string, settings: Settings, clock: Clock): Promise<Principal> {
  return (await verifyTokenClaims(token, settings, clock)).principal;
}
