import { cachedSettings, readInt } from "../lib/config";

/** Every value has a default; wrangler.toml [vars] or `--var` override them. */
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

/** Campaign settings, in the one dialect (lib/config.ts); push settings live in functions/push/config.ts. */
export const campaignSettings = cachedSettings(
  (env: Env): CampaignSettings => ({
    pingbackTtlS: readInt(env, "PINGBACK_TTL_S", { fallback: 3600, min: 10, max: 7 * 86400 }),
    fanoutPageSize: readInt(env, "FANOUT_PAGE_SIZE", { fallback: 500, min: 1, max: 5000 }),
    fanoutConcurrency: readInt(env, "FANOUT_CONCURRENCY", { fallback: 6, min: 1, max: 50 }),
    fanoutPageIntervalMs: readInt(env, "FANOUT_PAGE_INTERVAL_MS", { fallback: 0, min: 0, max: 3_600_000 }),
  }),
);
