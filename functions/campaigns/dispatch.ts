import type { PushResult } from "../push/types";

/**
 * Provider-agnostic dispatch decisions, pure: what to do with a PushResult, when to retry, when a probe's push is
 * due within its run. Every provider maps its answers to PushResult; these rules apply the same way to all.
 */
export type Decision =
  | { action: "sent" }
  /** Handed to a gateway that queues without telling (PushResult "accepted"): the task is notified, not counted as sent. */
  | { action: "accepted" }
  | { action: "retry"; atMs: number }
  | { action: "token-expired" }
  | { action: "failed"; reason: string };

export const BACKOFF_BASE_MS = 2_000;
export const BACKOFF_CAP_MS = 15 * 60_000;
/** A provider asking for more than this is treated as this (the task would expire anyway). */
export const RETRY_AFTER_CAP_MS = 60 * 60_000;

/** Exponential backoff with jitter in [50%, 100%]: 2 s, 4 s, 8 s ... capped at 15 min. */
export function backoffMs(attempt: number, rand: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + 0.5 * rand));
}

/** `attempt` is the number of attempts made so far, including the one that produced `result`. */
export function decide(result: PushResult, attempt: number, maxAttempts: number, nowMs: number, rand: number): Decision {
  switch (result.outcome) {
    case "sent":
      return { action: "sent" };
    case "accepted":
      return { action: "accepted" };
    case "token-expired":
      return { action: "token-expired" };
    case "rejected":
      return { action: "failed", reason: result.error };
    case "retry": {
      if (attempt >= maxAttempts) return { action: "failed", reason: `gave up after ${attempt} attempts: ${result.error}` };
      const wait = result.retryAfterMs !== undefined ? Math.min(RETRY_AFTER_CAP_MS, Math.max(result.retryAfterMs, 1000)) : backoffMs(attempt, rand);
      return { action: "retry", atMs: nowMs + wait };
    }
  }
}
