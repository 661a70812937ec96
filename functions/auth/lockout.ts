import { eq, sql } from "drizzle-orm";
import { loginFailures } from "../../schema/auth";
import { eventInsert, type SubjectKind } from "../events/store";
import type { Db } from "../lib/db";
import type { AbuseSettings } from "../lib/settings";

/**
 * Per-account login failures with a growing delay. The first LOGIN_LOCKOUT_AFTER failures within
 * LOGIN_FAILURE_WINDOW_S pass; from then on each failure locks the account for LOGIN_LOCKOUT_BASE_S doubling per
 * further failure, up to LOGIN_LOCKOUT_MAX_S. A locked account's logins are refused (429, Retry-After) before any
 * password is checked. A success clears the count. With the defaults (5, 2 s, 900 s) at most 9 guesses fit in a
 * minute and about 25 in an hour, per account, from any number of addresses.
 */
export type FailureState = { failures: number; lastFailedAt: string; lockedUntil: string | null };

export function nextFailureState(prev: FailureState | null | undefined, now: Date, abuse: AbuseSettings): FailureState {
  const fresh = !prev || now.getTime() - Date.parse(prev.lastFailedAt) >= abuse.failureWindowS * 1000;
  const failures = fresh ? 1 : prev.failures + 1;
  if (failures < abuse.lockoutAfter) return { failures, lastFailedAt: now.toISOString(), lockedUntil: null };
  const waitS = Math.min(abuse.lockoutMaxS, abuse.lockoutBaseS * 2 ** Math.min(failures - abuse.lockoutAfter, 30));
  return { failures, lastFailedAt: now.toISOString(), lockedUntil: new Date(now.getTime() + waitS * 1000).toISOString() };
}

/** Seconds the account must still wait, or 0. */
export function lockedForS(state: FailureState | null | undefined, now: Date): number {
  if (!state?.lockedUntil) return 0;
  const ms = Date.parse(state.lockedUntil) - now.getTime();
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

export type LoginAccount = { kind: Extract<SubjectKind, "operator" | "probe">; id: string };
export const accountKey = (a: LoginAccount) => `${a.kind}:${a.id}`;

export async function failureStateOf(db: Db, a: LoginAccount): Promise<FailureState | undefined> {
  return db
    .select({ failures: loginFailures.failures, lastFailedAt: loginFailures.lastFailedAt, lockedUntil: loginFailures.lockedUntil })
    .from(loginFailures)
    .where(eq(loginFailures.account, accountKey(a)))
    .get();
}

/**
 * One failed login as statements for the caller's batch: the new count and the `auth.login_failed` event (never the
 * password). The login route writes them in the same batch as its audit row, so a failed write leaves neither.
 */
export function loginFailureWrites(db: Db, a: LoginAccount, prev: FailureState | null | undefined, now: Date, abuse: AbuseSettings, actor: string) {
  const next = nextFailureState(prev, now, abuse);
  return [
    db
      .insert(loginFailures)
      .values({ account: accountKey(a), ...next })
      .onConflictDoUpdate({ target: loginFailures.account, set: { failures: next.failures, lastFailedAt: next.lastFailedAt, lockedUntil: next.lockedUntil } }),
    eventInsert(db, {
      at: next.lastFailedAt,
      type: "auth.login_failed",
      actor,
      subject: { kind: a.kind, id: a.id },
      ...(a.kind === "probe" ? { probeId: a.id } : {}),
      data: { failures: next.failures, locked_until: next.lockedUntil },
    }),
  ] as const;
}

/** A successful login forgets the account's failures (a statement for the caller's batch). */
export function clearLoginFailures(db: Db, a: LoginAccount) {
  return db.delete(loginFailures).where(eq(loginFailures.account, accountKey(a)));
}

/** Cron: rows whose window has passed carry no state any more. */
export async function pruneLoginFailures(db: Db, now: Date, abuse: AbuseSettings): Promise<void> {
  const before = new Date(now.getTime() - Math.max(abuse.failureWindowS, abuse.lockoutMaxS) * 1000).toISOString();
  await db.delete(loginFailures).where(sql`${loginFailures.lastFailedAt} < ${before}`).run();
}
