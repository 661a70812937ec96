import { ApiError } from "./errors";

/**
 * What a D1 failure means for the client (docs/decisions/0012-write-outcomes.md).
 *
 * - SQLite's own statement errors (constraint, type, size, SQL): the statement's transaction rolled back. They are
 *   the handler's to interpret (a UNIQUE violation is often a 409); unhandled, they are bugs (500).
 * - Anything else from D1 (connection lost, a timeout, overload, the storage object reset): the service is
 *   unavailable. A read may simply be retried (503 `unavailable`). A write may or may not have committed: its
 *   client is told exactly that (503 `outcome_unknown`), never "retry" as if nothing happened. Every write here is
 *   one atomic batch, so "may have committed" means all of it or none of it.
 */
export function isStatementError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (/SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE|ERROR)\b|constraint failed/i.test(String((e as Error).message ?? e))) return true;
  }
  return false;
}

// How D1 reports a failed call (its D1_* prefixes and the platform's transient messages); drizzle wraps it as `cause`.
const D1_FAILURE_RE = /\bD1_[A-Z_]+\b|\bD1 DB\b|Network connection lost|object to be reset|storage operation exceeded timeout|Memory limit would be exceeded/i;

/** Whether an error came out of a D1 call and is not a statement error (see above). */
export function isD1Failure(error: unknown): boolean {
  if (isStatementError(error)) return false;
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (D1_FAILURE_RE.test(String((e as Error).message ?? e))) return true;
  }
  return false;
}

export const RETRY_AFTER_S = "5";

/** A write whose outcome cannot be known: it may still commit, or have committed, or not. */
export function outcomeUnknown(cause?: unknown): ApiError {
  const e = new ApiError(
    "outcome_unknown",
    "the database did not confirm this write: it may or may not have been applied; retry the same request (the same Idempotency-Key or body) to learn its outcome",
    undefined,
    { "Retry-After": RETRY_AFTER_S },
  );
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
}

/** What a surface's error handler renders for an error that is not an ApiError: a D1 failure as a 503, else null. */
export function d1FailureAsApiError(error: unknown, method: string): ApiError | null {
  if (!isD1Failure(error)) return null;
  if (method === "GET" || method === "HEAD") {
    return new ApiError("unavailable", "the database is unavailable; retry later", undefined, { "Retry-After": RETRY_AFTER_S });
  }
  return outcomeUnknown(error);
}

/** A commit's failure as its client should learn it: statement errors and ApiErrors as they are, anything else unknown. */
export function commitFailure(error: unknown): unknown {
  if (error instanceof ApiError || isStatementError(error)) return error;
  return outcomeUnknown(error);
}
