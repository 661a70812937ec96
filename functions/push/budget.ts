/**
 * Per-device push budgets that respect what the operating systems tolerate. Apple: background pushes are
 * "low priority … don't try to send more than two or three per hour"; the system throttles beyond that.
 * FCM: 240 messages/min and 5,000/hour per device, and collapsible messages burst to 20 then 1 per 3 minutes.
 * A push over budget is not sent: the task stays ready for the probe's pull, and the deferral is recorded.
 */
export type Budget = { perHour: number; perMinute: number };

export const DEFAULT_BUDGETS: Record<"ios" | "android", Budget> = {
  ios: { perHour: 3, perMinute: 3 },
  android: { perHour: 20, perMinute: 10 },
};

export type BudgetVerdict = { ok: true } | { ok: false; window: "minute" | "hour"; sent: number; limit: number; freeAtMs: number };

/**
 * May one more push go to this device now? `sentAtMs` are the times of the pushes it was sent (any order);
 * only the last hour matters. `freeAtMs` says when the oldest push in the full window ages out.
 */
export function budgetAllows(sentAtMs: number[], nowMs: number, b: Budget): BudgetVerdict {
  const hour = sentAtMs.filter((t) => t > nowMs - 3_600_000).sort((x, y) => x - y);
  const minute = hour.filter((t) => t > nowMs - 60_000);
  if (minute.length >= b.perMinute)
    return { ok: false, window: "minute", sent: minute.length, limit: b.perMinute, freeAtMs: minute[minute.length - b.perMinute] + 60_000 };
  if (hour.length >= b.perHour) return { ok: false, window: "hour", sent: hour.length, limit: b.perHour, freeAtMs: hour[hour.length - b.perHour] + 3_600_000 };
  return { ok: true };
}

export function budgetFor(platform: string, overrides: Partial<Record<"ios" | "android", Budget>> = {}): Budget | null {
  const p = platform.toLowerCase();
  if (p === "ios" || p === "android") return overrides[p] ?? DEFAULT_BUDGETS[p];
  return null;
}
