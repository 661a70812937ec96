import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Revocation (docs/security.md "Revocation"): one row per principal whose tokens were ever revoked or that was
 * disabled. `kind` is the token's principal kind (operator, probe, agent, school, member), `sub` its subject. A
 * token carries the version it was issued under (`ver`, 0 when absent); it is valid while that equals `version`.
 * No row = version 0, enabled. `disabled_at` set = the principal can neither log in nor use a token.
 */
export const principalVersions = sqliteTable(
  "principal_versions",
  {
    kind: text("kind").notNull(),
    sub: text("sub").notNull(),
    version: integer("version").notNull().default(0),
    disabledAt: text("disabled_at"),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.sub] })],
);

/** Single tokens revoked by logout (`jti`), kept until the token would have expired anyway (then pruned by cron). */
export const revokedTokens = sqliteTable(
  "revoked_tokens",
  {
    jti: text("jti").primaryKey(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("revoked_tokens_expires_at").on(t.expiresAt)],
);

/**
 * Per-account failed logins (functions/auth/lockout.ts). `account` is "<kind>:<id>" (operator username lower-cased,
 * a probe's client id); unknown operator names are counted too, so guessing names costs the same as guessing passwords.
 */
export const loginFailures = sqliteTable(
  "login_failures",
  {
    account: text("account").primaryKey(),
    failures: integer("failures").notNull(),
    lastFailedAt: text("last_failed_at").notNull(),
    lockedUntil: text("locked_until"),
  },
  (t) => [index("login_failures_last_failed_at").on(t.lastFailedAt)],
);
