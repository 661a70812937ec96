/**
 * Adaptive rollout (additive increase, multiplicative decrease). A campaign's run sends at `rate` pushes per
 * minute; when a provider answers 429 or a quota error the rate halves (at most once per `holdMs`, so one burst
 * of throttled answers counts once), and each quiet minute after that it climbs back by a quarter of the
 * configured rate until it reaches it. Nothing is dropped: throttled pushes retry, later ones are spaced out.
 */
export type Pace = {
  /** The campaign's configured rate (pushes/minute); null = as fast as the platform allows. */
  configured: number | null;
  /** The rate in force now; null = unlimited. */
  current: number | null;
  /** Last time the rate was cut. */
  cutAtMs: number | null;
  /** Virtual send clock: the next free send slot. */
  cursorMs: number;
};

export const MIN_RATE_PER_MIN = 6;
export const HOLD_MS = 30_000;
/** Used when a campaign without a rate is throttled: a starting point for the halving. */
export const UNLIMITED_EQUIVALENT_PER_MIN = 6_000;

export function newPace(configured: number | null, startMs: number): Pace {
  return { configured, current: configured, cutAtMs: null, cursorMs: startMs };
}

/** A provider throttled us: halve the rate (once per hold window) and push the cursor past any Retry-After. */
export function onThrottle(p: Pace, nowMs: number, retryAfterMs?: number): Pace {
  const recent = p.cutAtMs !== null && nowMs - p.cutAtMs < HOLD_MS;
  const base = p.current ?? UNLIMITED_EQUIVALENT_PER_MIN;
  const current = recent ? base : Math.max(MIN_RATE_PER_MIN, Math.floor(base / 2));
  const cursorMs = Math.max(p.cursorMs, nowMs + (retryAfterMs ?? 0));
  return { ...p, current, cutAtMs: recent ? p.cutAtMs : nowMs, cursorMs };
}

/** Recovery: for each full quiet minute since the last cut, add a quarter of the configured rate back. */
export function recover(p: Pace, nowMs: number): Pace {
  if (p.current === null || p.cutAtMs === null) return p;
  const quietMinutes = Math.floor((nowMs - p.cutAtMs) / 60_000);
  if (quietMinutes < 1) return p;
  const target = p.configured ?? UNLIMITED_EQUIVALENT_PER_MIN;
  const step = Math.max(1, Math.ceil(target / 4));
  const current = Math.min(target, p.current + step * quietMinutes);
  if (current >= target) return { ...p, current: p.configured, cutAtMs: null };
  return { ...p, current, cutAtMs: nowMs };
}

/** Send times for the next `count` pushes at the current rate, and the pace after them. */
export function schedule(p: Pace, count: number, nowMs: number): { times: number[]; pace: Pace } {
  const start = Math.max(p.cursorMs, nowMs);
  if (p.current === null) return { times: Array.from({ length: count }, () => start), pace: { ...p, cursorMs: start } };
  const gap = 60_000 / p.current;
  const times = Array.from({ length: count }, (_, i) => Math.floor(start + i * gap));
  return { times, pace: { ...p, cursorMs: Math.floor(start + count * gap) } };
}
