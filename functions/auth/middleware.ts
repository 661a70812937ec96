import { createMiddleware } from "hono/factory";
import type { Context } from "hono";
import { type SQL, sql } from "drizzle-orm";
import { ApiError } from "../lib/errors";
import type { SubjectKind } from "../events/store";
import type { AppEnv } from "../lib/hono";
import { adminStamp, revocationState, revokedReason, tokenStands } from "./revocation";
import { type OperatorRole, operatorPrincipal, type Principal, type PrincipalKind, verifyTokenClaims } from "./tokens";

const RANK: Record<OperatorRole, number> = { viewer: 1, operator: 2, admin: 3 };

/** The bearer token of a request, or null. A malformed Authorization header is a 401, not "anonymous". */
export function bearerOf(c: Context<AppEnv>): string | null {
  const h = c.req.header("authorization");
  if (h === undefined || h === "") return null;
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(h.trim());
  if (!m) throw new ApiError("unauthorized", "Authorization header must be 'Bearer <token>'", undefined, { "WWW-Authenticate": "Bearer" });
  return m[1];
}

/**
 * The one auth path: verify the token, then in one D1 statement (revocation.ts) check that it is not revoked (its
 * principal's version, its jti, the principal not disabled) and, for operator accounts, that the account still
 * exists and is enabled (its current role wins over the role in the token). The bootstrap admin's token must carry
 * the stamp of the current ADMIN_PASSWORD. Returns null when no credentials were sent.
 */
export async function resolvePrincipal(c: Context<AppEnv>, token: string | null): Promise<Principal | null> {
  if (token === null) return null;
  const { settings, clock, db } = c.var.services;
  const t = await verifyTokenClaims(token, settings, clock);
  const p = t.principal;
  const bootstrap = p.kind === "operator" && p.sub === settings.adminUsername;
  if (bootstrap && (settings.adminPassword === "" || t.adp !== (await adminStamp(settings)))) {
    throw new ApiError("invalid_token", "token was issued under another ADMIN_PASSWORD");
  }
  const operatorName = p.kind === "operator" && !bootstrap ? p.sub : null;
  const state = await revocationState(db, p.kind, p.sub, t.jti, operatorName);
  const why = revokedReason(t, state);
  if (why) throw new ApiError("invalid_token", why);
  c.set("token", t);
  if (operatorName === null) return p;
  if (!state.operatorRole) throw new ApiError("invalid_token", "operator account no longer exists or is disabled");
  return operatorPrincipal(p.sub, state.operatorRole as OperatorRole);
}

/**
 * The same auth path for a device principal's own write, in one D1 round trip instead of two: the token is verified
 * here (signature, audience, expiry) and its revocation check comes back as `stands`, a condition the write must
 * carry in every statement's WHERE (tokenStands). A write that then changes nothing calls resolvePrincipal to say
 * why (revoked → 401; otherwise the route's own reason). Any other principal (another kind, another device, an
 * operator with its role lookup) takes resolvePrincipal at once.
 */
export async function resolveForWrite(
  c: Context<AppEnv>,
  token: string | null,
  kind: Exclude<PrincipalKind, "operator">,
  sub: string,
): Promise<{ principal: Principal; stands: SQL } | null> {
  if (token === null) return null;
  const { settings, clock } = c.var.services;
  const t = await verifyTokenClaims(token, settings, clock);
  // Not the principal this write is for: the whole check now, so a revoked token is a 401 before the route's 403.
  if (t.principal.kind !== kind || t.principal.sub !== sub) return { principal: await requireResolved(c, token), stands: sql`1` };
  c.set("token", t);
  return { principal: t.principal, stands: tokenStands(kind, t.principal.sub, t.ver, t.jti) };
}

async function requireResolved(c: Context<AppEnv>, token: string): Promise<Principal> {
  const p = await resolvePrincipal(c, token);
  if (!p) throw new ApiError("unauthorized", "authentication required", undefined, { "WWW-Authenticate": "Bearer" });
  return p;
}

/** Optional auth: sets `principal` when a valid token is sent; a bad token is still a 401. */
export const optionalAuth = createMiddleware<AppEnv>(async (c, next) => {
  const p = await resolvePrincipal(c, bearerOf(c));
  if (p) c.set("principal", p);
  await next();
});

function requireWith(check: (p: Principal) => boolean, what: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const p = await resolvePrincipal(c, bearerOf(c));
    if (!p) throw new ApiError("unauthorized", "authentication required", undefined, { "WWW-Authenticate": "Bearer" });
    if (!check(p)) throw new ApiError("forbidden", `this action requires ${what}`);
    c.set("principal", p);
    await next();
  });
}

/** Operator routes: viewer reads, operator changes campaigns, admin manages accounts. */
export function requireOperator(min: OperatorRole = "viewer") {
  return requireWith((p) => p.kind === "operator" && RANK[p.role as OperatorRole] >= RANK[min], `the ${min} role`);
}

/** Routes for one kind of device principal (probe, agent, school, member); handlers then check it acts only on itself. */
export function requirePrincipal(kind: Exclude<PrincipalKind, "operator">) {
  return requireWith((p) => p.kind === kind, `a ${kind} token`);
}

/** Any authenticated principal (logout). */
export const requireAnyPrincipal = requireWith(() => true, "a token");

/** The event subject kind of a principal (agents and school servers have none of their own yet). */
export function subjectKindOf(p: Principal): SubjectKind {
  if (p.kind === "operator") return "operator";
  if (p.kind === "probe") return "probe";
  if (p.kind === "member") return "mesh_member";
  if (p.kind === "agent") return "minion";
  return "system";
}

/** Probe routes: any probe token; handlers then check the probe acts only on itself. */
export const requireProbe = requirePrincipal("probe");

export function principal(c: Context<AppEnv>): Principal {
  const p = c.get("principal");
  if (!p) throw new ApiError("unauthorized", "authentication required");
  return p;
}

export function actorOf(p: Principal): string {
  return `${p.kind}:${p.sub}`;
}
