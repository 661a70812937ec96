import { ApiError } from "../lib/errors";

/**
 * Campaign settings (push settings live in functions/push/config.ts), kept apart from the core settings so this surface can grow without touching them.
 * Every value has a default; wrangler.toml [vars] or `--var` override them.
 */
export type CampaignSettings = {
  /** Lifetime of a pingback link. */
  pingbackTtlS: number;
  /** Probes handed out per runner alarm invocation (one subrequest each, plus a few D1 queries). */
  fanoutPageSize: number;
  /** Hand-offs in flight at once (the platform allows 6 simultaneous outgoing connections). */
  fanoutConcurrency: number;
  /**
   * Least time between two pages of one run (0 = next page at once). Caps how many probe objects are live at
   * once; the local single-process runtime needs it for large runs (bench/README.md "Campaign fan-out").
   */
  fanoutPageIntervalMs: number;
};

const int = (name: string, raw: unknown, fallback: number, min: number, max: number): number => {
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ApiError("misconfigured", `setting ${name} must be an integer in ${min}..${max}`);
  return n;
};

const cache = new WeakMap<object, CampaignSettings>();

export function campaignSettings(env: Env): CampaignSettings {
  const hit = cache.get(env);
  if (hit) return hit;
  const e = env as unknown as Record<string, string | undefined>;
  const s: CampaignSettings = {
    pingbackTtlS: int("PINGBACK_TTL_S", e.PINGBACK_TTL_S, 3600, 10, 7 * 86400),
    fanoutPageSize: int("FANOUT_PAGE_SIZE", e.FANOUT_PAGE_SIZE, 500, 1, 5000),
    fanoutConcurrency: int("FANOUT_CONCURRENCY", e.FANOUT_CONCURRENCY, 6, 1, 50),
    fanoutPageIntervalMs: int("FANOUT_PAGE_INTERVAL_MS", e.FANOUT_PAGE_INTERVAL_MS, 0, 0, 3_600_000),
  };
  cache.set(env, s);
  return s;
}
