import { type SQL, sql } from "drizzle-orm";
import { principalVersions, revokedTokens } from "../../schema/auth";
import type { Db } from "../lib/db";
import type { Settings } from "../lib/settings";
import type { PrincipalKind, TokenClaims } from "./tokens";

/**
 * Revocation (docs/security.md "Revocation"). Every principal has a version (principal_versions; no row = 0) and
 * every token carries the version it was issued under (`ver`; tokens from before versions count as 0, so they stay
 * valid until the first revocation of their principal). Bumping the version ends all of a principal's tokens at
 * once (logout everywhere, password change, disabling); a single token is ended by its `jti` in revoked_tokens
 * until it would have expired. The bootstrap admin's tokens also carry a stamp of ADMIN_PASSWORD, so changing that
 * secret ends them without any write. All of it is read in one D1 statement per request (revocationState).
 */
export type RevocationState = { version: number; disabled: boolean; revoked: boolean; operatorRole: string | null };

export async function revocationState(db: Db, kind: PrincipalKind, sub: string, jti: string | null, operatorName: string | null): Promise<RevocationState> {
  const row = await db.get<{ version: number | null; disabled_at: string | null; revoked: number | null; role: string | null }>(sql`
    SELECT
      (SELECT version FROM principal_versions WHERE kind = ${kind} AND sub = ${sub}) AS version,
      (SELECT disabled_at FROM principal_versions WHERE kind = ${kind} AND sub = ${sub}) AS disabled_at,
      (SELECT 1 FROM revoked_tokens WHERE jti = ${jti ?? ""}) AS revoked,
      (SELECT role FROM operators WHERE username = ${operatorName ?? ""} AND disabled_at IS NULL) AS role`);
  return { version: row?.version ?? 0, disabled: row?.disabled_at != null, revoked: row?.revoked === 1, operatorRole: row?.role ?? null };
}

/**
 * The same check as revocationState + revokedReason, as a condition a write carries in its WHERE: true while the
 * token still stands (its principal's version, not disabled, its jti not revoked). A device's write then checks
 * revocation in its own round trip, atomically with the write (resolveForWrite in middleware.ts). 4 bound parameters.
 */
export function tokenStands(kind: PrincipalKind, sub: string, ver: number, jti: string | null): SQL {
  return sql`(COALESCE((SELECT CASE WHEN disabled_at IS NULL THEN version ELSE -1 END FROM principal_versions WHERE kind = ${kind} AND sub = ${sub}), 0) = ${ver}
    AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ${jti ?? ""}))`;
}

/** Why a verified token no longer stands, or null. */
export function revokedReason(t: Pick<TokenClaims, "ver">, s: RevocationState): string | null {
  if (s.disabled) return "this principal is disabled";
  if (s.revoked) return "token has been revoked (logged out)";
  if (t.ver !== s.version) return "token has been revoked";
  return null;
}

/** The version a new token of this principal is issued under. */
export async function currentVersion(db: Db, kind: PrincipalKind, sub: string): Promise<{ version: number; disabled: boolean }> {
  const row = await db.get<{ version: number; disabled_at: string | null }>(
    sql`SELECT version, disabled_at FROM principal_versions WHERE kind = ${kind} AND sub = ${sub}`,
  );
  return { version: row?.version ?? 0, disabled: row?.disabled_at != null };
}

/** Ends every token of the principal (a statement for a batch). */
export function bumpVersion(db: Db, kind: PrincipalKind, sub: string, at: string) {
  return db
    .insert(principalVersions)
    .values({ kind, sub, version: 1, disabledAt: null, updatedAt: at })
    .onConflictDoUpdate({ target: [principalVersions.kind, principalVersions.sub], set: { version: sql`${principalVersions.version} + 1`, updatedAt: at } });
}

/** Disables (every token ends, logins refused) or enables (tokens stay ended; new logins work) a principal. */
export function setDisabled(db: Db, kind: PrincipalKind, sub: string, disabledAt: string | null, at: string) {
  return db
    .insert(principalVersions)
    .values({ kind, sub, version: disabledAt ? 1 : 0, disabledAt, updatedAt: at })
    .onConflictDoUpdate({
      target: [principalVersions.kind, principalVersions.sub],
      set: { version: disabledAt ? sql`${principalVersions.version} + 1` : sql`${principalVersions.version}`, disabledAt, updatedAt: at },
    });
}

/** Ends one token until its own expiry. */
export function revokeJti(db: Db, jti: string, expS: number) {
  return db
    .insert(revokedTokens)
    .values({ jti, expiresAt: new Date(expS * 1000).toISOString() })
    .onConflictDoNothing();
}

/** Cron: a revoked token past its expiry would be refused anyway. */
export async function pruneRevokedTokens(db: Db, now: Date): Promise<void> {
  await db.delete(revokedTokens).where(sql`${revokedTokens.expiresAt} < ${now.toISOString()}`).run();
}

const stamps = new WeakMap<Settings, Promise<string>>();

/** 16 hex of HMAC(JWT_SECRET, ADMIN_PASSWORD): in the bootstrap admin's tokens; a new password ends the old ones. */
export function adminStamp(settings: Settings): Promise<string> {
  let s = stamps.get(settings);
  if (!s) {
    s = (async () => {
      const key = await crypto.subtle.importKey("raw", settings.jwtSecret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`eo-admin-password\u0000${settings.adminPassword}`)));
      return [...mac.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
    })();
    stamps.set(settings, s);
  }
  return s;
}
