import type { Datum } from "./charts";

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
  return data.map((d) => ({ label: d.label, value: (sum += d.value) }));
}

/** Push outcomes of the last 24 h from `push.*` event counts: sent, failed, deferred (retries and skips). */
export function pushOutcomes(rows: { type: string; n: number }[]): { sent: number; failed: number; deferred: number } {
  const out = { sent: 0, failed: 0, deferred: 0 };
  for (const r of rows) {
    if (r.type === "push.sent") out.sent += r.n;
    else if (r.type === "push.failed") out.failed += r.n;
    else if (r.type === "push.retry" || r.type === "push.deferred" || r.type === "push.skipped") out.deferred += r.n;
  }
  return out;
}
