import { ApiError } from "../lib/errors";

/**
 * Campaign and push settings, kept apart from the core settings so this surface can grow without touching them.
 * Every value has a default; wrangler.toml [vars] or `--var` override them.
 */
export type CampaignSettings = {
  /** gorush-compatible gateway base URL; empty = no push (probes pull their tasks). */
  gorushUrl: string | null;
  /** Sent as the Authorization header to the gateway (gorush has no auth of its own: put it behind a proxy). */
  gorushAuthorization: string | null;
  gorushIosTopic: string;
  gorushAndroidClickAction: string;
  pushTimeoutMs: number;
  pushMaxAttempts: number;
  /** Lifetime of a pingback link. */
  pingbackTtlS: number;
  /** Probes handed out per runner alarm invocation (one subrequest each, plus a few D1 queries). */
  fanoutPageSize: number;
  /** Hand-offs in flight at once (the platform allows 6 simultaneous outgoing connections). */
  fanoutConcurrency: number;
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
  let gorushUrl: string | null = null;
  if (e.GORUSH_URL) {
    try {
      gorushUrl = new URL(e.GORUSH_URL).toString().replace(/\/+$/, "");
    } catch {
      throw new ApiError("misconfigured", "setting GORUSH_URL must be an absolute URL");
    }
  }
  const s: CampaignSettings = {
    gorushUrl,
    gorushAuthorization: e.GORUSH_AUTHORIZATION || null,
    gorushIosTopic: e.GORUSH_IOS_TOPIC ?? "",
    gorushAndroidClickAction: e.GORUSH_ANDROID_CLICK_ACTION ?? "",
    pushTimeoutMs: int("PUSH_TIMEOUT_MS", e.PUSH_TIMEOUT_MS, 10_000, 100, 60_000),
    pushMaxAttempts: int("PUSH_MAX_ATTEMPTS", e.PUSH_MAX_ATTEMPTS, 6, 1, 20),
    pingbackTtlS: int("PINGBACK_TTL_S", e.PINGBACK_TTL_S, 3600, 10, 7 * 86400),
    fanoutPageSize: int("FANOUT_PAGE_SIZE", e.FANOUT_PAGE_SIZE, 500, 1, 5000),
    fanoutConcurrency: int("FANOUT_CONCURRENCY", e.FANOUT_CONCURRENCY, 6, 1, 50),
  };
  cache.set(env, s);
  return s;
}
