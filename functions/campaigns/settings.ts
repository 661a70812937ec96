import { cachedSettings, readInt } from "../lib/config";

/** Every value has a default; wrangler.toml [vars] or `--var` override them. */
export type CampaignSettings = {
  /** Lifetime of a pingback link. */
  pingbackTtlS: number;
  /** Probes handed out per runner alarm invocation: one D1 page read, then one hand-off RPC per scheduler shard. */
  fanoutPageSize: number;
  /** Hand-off RPCs in flight at once (the platform allows 6 simultaneous outgoing connections). */
  fanoutConcurrency: number;
  /**
   * Scheduler shards a new run is handed to (a probe's shard is a stable hash of its id). A run keeps the count it
   * was fired with, so changing it moves no occurrence: later runs use the new shards, and the old ones drain.
   */
  schedulerShards: number;
  /** Due occurrences one scheduler alarm invocation claims (its pushes, one D1 read and one D1 write batch). */
  schedulerBatch: number;
};

/** Campaign settings, in the one dialect (lib/config.ts); push settings live in functions/push/config.ts. */
export const campaignSettings = cachedSettings(
  (env: Env): CampaignSettings => ({
    pingbackTtlS: readInt(env, "PINGBACK_TTL_S", { fallback: 3600, min: 10, max: 7 * 86400 }),
    fanoutPageSize: readInt(env, "FANOUT_PAGE_SIZE", { fallback: 2000, min: 1, max: 5000 }),
    fanoutConcurrency: readInt(env, "FANOUT_CONCURRENCY", { fallback: 6, min: 1, max: 6 }),
    schedulerShards: readInt(env, "SCHEDULER_SHARDS", { fallback: 16, min: 1, max: 4096 }),
    schedulerBatch: readInt(env, "SCHEDULER_BATCH", { fallback: 500, min: 1, max: 800 }),
  }),
);
