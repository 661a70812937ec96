import type { Datum, StackedSeries } from "./charts";

// Shaping query results for charts and tables. Plain functions, tested in test/console/aggregate.test.ts.

/** The `n` largest categories, the rest summed into one "other" row (kept last); null labels become `unknownLabel`. */
export function topN(rows: { key: string | null; n: number }[], n: number, o: { other?: string; unknownLabel?: string } = {}): Datum[] {
  const unknown = o.unknownLabel ?? "unknown";
  const merged = new Map<string, number>();
  for (const r of rows) {
    const k = r.key === null || r.key === "" ? unknown : r.key;
    merged.set(k, (merged.get(k) ?? 0) + r.n);
  }
  const sorted = [...merged].map(([label, value]) => ({ label, value })).sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
  if (sorted.length <= n) return sorted;
  const rest = sorted.slice(n).reduce((s, d) => s + d.value, 0);
  return [...sorted.slice(0, n), { label: o.other ?? `other (${sorted.length - n})`, value: rest }];
}

/** The UTC day (YYYY-MM-DD) `days - 1` days before `end`'s day: the first day of a `days`-long window ending today. */
export function windowStart(end: Date, days: number): string {
  const d = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate()));
  d.setUTCDate(d.getUTCDate() - (days - 1));
  return d.toISOString().slice(0, 10);
}

/** One datum per UTC day of the window ending on `end`'s day, zero where the query returned no row. */
export function fillDays(rows: { day: string; n: number }[], end: Date, days: number): Datum[] {
  const byDay = new Map(rows.map((r) => [r.day, r.n]));
  const start = new Date(`${windowStart(end, days)}T00:00:00Z`);
  return Array.from({ length: days }, (_, i) => {
    const d = new Date(start.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    return { label: d, value: byDay.get(d) ?? 0 };
  });
}

/** A running total starting from `base` (e.g. fleet size per day from registrations per day). */
export function cumulative(data: Datum[], base = 0): Datum[] {
  let sum = base;
  return data.map((d) => {
    sum += d.value;
    return { label: d.label, value: sum };
  });
}

/**
 * Push outcomes, from the `push.*` events the probe schedulers write: sent; accepted (gorush took it without
 * core.sync, so whether it reached the device is unknown: docs/push.md); deferred (over the device budget, sent later);
 * retried (the gateway asked to try again); skipped (nothing to push: no live token, campaign gone); failed.
 */
export const PUSH_OUTCOMES = ["sent", "accepted", "deferred", "retried", "skipped", "failed"] as const;
export type PushOutcome = (typeof PUSH_OUTCOMES)[number];

/**
 * Outcomes only some deployments produce (`accepted`: gorush without GORUSH_SYNC=on), listed only where they
 * occurred, so a deployment that never sees one gets no always-zero bar or column for it. The others are always listed.
 */
const OCCASIONAL: ReadonlySet<PushOutcome> = new Set(["accepted"]);

const PUSH_TYPE: Record<string, PushOutcome> = {
  "push.sent": "sent",
  "push.accepted": "accepted",
  "push.deferred": "deferred",
  "push.retry": "retried",
  "push.skipped": "skipped",
  "push.failed": "failed",
};

/** The outcome of a `push.*` event type, or null for a type this console does not know. */
export function pushOutcome(type: string): PushOutcome | null {
  return PUSH_TYPE[type] ?? null;
}

/** The outcomes to list, in PUSH_OUTCOMES order: every regular one, an occasional one only when `occurred` says so. */
export function listedOutcomes(occurred: (o: PushOutcome) => boolean): PushOutcome[] {
  return PUSH_OUTCOMES.filter((o) => !OCCASIONAL.has(o) || occurred(o));
}

/** Totals by outcome from `push.*` event counts (unknown push.* types are left out, not guessed; see listedOutcomes). */
export function pushOutcomes(rows: { type: string; n: number }[]): Partial<Record<PushOutcome, number>> {
  const sums = new Map<PushOutcome, number>();
  for (const r of rows) {
    const o = pushOutcome(r.type);
    if (o) sums.set(o, (sums.get(o) ?? 0) + r.n);
  }
  return Object.fromEntries(listedOutcomes((o) => (sums.get(o) ?? 0) > 0).map((o) => [o, sums.get(o) ?? 0]));
}

/** The outcomes to list for a series of hours (pushesPerHour): an occasional outcome only if some hour has it. */
export function seriesOutcomes(series: StackedSeries[]): PushOutcome[] {
  return listedOutcomes((o) => series.some((h) => (h.values[o] ?? 0) > 0));
}

/**
 * One entry per UTC hour of the `hours` hours ending with `now`'s hour (label "HH:00"), outcome counts per hour,
 * zero where no event fell. `rows` are counts by `hour` ("YYYY-MM-DDTHH", the first 13 characters of `at`) and type.
 */
export function pushesPerHour(rows: { hour: string; type: string; n: number }[], now: Date, hours = 24): StackedSeries[] {
  const end = Math.floor(now.getTime() / 3_600_000) * 3_600_000;
  const slots = Array.from({ length: hours }, (_, i) => new Date(end - (hours - 1 - i) * 3_600_000).toISOString().slice(0, 13));
  const index = new Map(slots.map((h, i) => [h, i]));
  const out: StackedSeries[] = slots.map((h) => ({ label: `${h.slice(11, 13)}:00`, values: {} }));
  for (const r of rows) {
    const i = index.get(r.hour);
    const o = pushOutcome(r.type);
    if (i === undefined || !o) continue;
    out[i].values[o] = (out[i].values[o] ?? 0) + r.n;
  }
  return out;
}
