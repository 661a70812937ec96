import { z } from "zod";
import { cachedSettings, readBool, readInt, readJson, readSecret, readString, readUrl } from "./config";
import { ApiError } from "./errors";

/** The Worker's settings, parsed once per env object. A bad setting is the deployment's fault: 503 `misconfigured`. */
export type Settings = {
  publicBaseUrl: string;
  jwtSecret: Uint8Array;
  adminUsername: string;
  adminPassword: string;
  operatorTokenTtlS: number;
  probeTokenTtlS: number;
  maxBodyBytes: number;
  /** Rate limits and login abuse (docs/security.md): where the client's address comes from, and the per-account lockout. */
  abuse: AbuseSettings;
  /** Concurrent probe writes share D1 round trips (GROUP_COMMIT, "on" unless "off"). */
  groupCommit: boolean;
  /** COMMIT_WAIT_MS: how long a write waits for its shared batch before answering 503 outcome_unknown (the batch carries on). */
  commitWaitMs: number;
  testHelpers: Record<string, { address: string; type: string; front?: string }[]>;
  /** Minion registry (docs/minions.md): status poll period, agent beacon schedule and validity, relay timeout. */
  minions: {
    monitorIntervalMs: number;
    beaconIntervalS: number;
    beaconRetry: number;
    beaconValidityS: number;
    proxyTimeoutMs: number;
    /** Enables the benchmark-only seeding route (bench/minions.mjs). Off unless MINIONS_BENCH_SEED = "1". */
    benchSeed: boolean;
  };
};

export type AbuseSettings = {
  /** TRUSTED_FRONTS: addresses of our own fronts (a CDN or reverse proxy); only their X-Forwarded-For is believed. */
  trustedFronts: string[];
  /** RATE_LIMIT_EXEMPT: client addresses the per-address limits skip ("unknown" = requests without CF-Connecting-IP). */
  rateLimitExempt: string[];
  /** LOGIN_LOCKOUT_AFTER: failed logins of one account before each further one waits (1..10). */
  lockoutAfter: number;
  /** LOGIN_LOCKOUT_BASE_S: the first wait; it doubles with each further failure, up to LOGIN_LOCKOUT_MAX_S. */
  lockoutBaseS: number;
  lockoutMaxS: number;
  /** LOGIN_FAILURE_WINDOW_S: an account's failure count starts again after this long without a failure. */
  failureWindowS: number;
};

const addressList = (env: Env, name: string): string[] =>
  readString(env, name, "")
    .split(",")
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a !== "");

const testHelpersSchema = z.record(z.string(), z.array(z.object({ address: z.string(), type: z.string(), front: z.string().optional() })));

/** The core settings (every surface's own live in its `settings.ts`, in the same dialect: lib/config.ts). */
export const settingsFrom = cachedSettings((env: Env): Settings => {
  const helpers = readJson(env, "TEST_HELPERS", testHelpersSchema, {});
  const publicBaseUrl = readUrl(env, "PUBLIC_BASE_URL", null);
  if (publicBaseUrl === null) throw new ApiError("misconfigured", "setting PUBLIC_BASE_URL must be an absolute URL");
  return {
    publicBaseUrl,
    jwtSecret: new TextEncoder().encode(readSecret(env, "JWT_SECRET", { minLength: 32, required: true })),
    adminUsername: env.ADMIN_USERNAME || "admin",
    // Optional (empty = no bootstrap admin), but never short: it is the one password no PBKDF2 hash protects at rest.
    adminPassword: readSecret(env, "ADMIN_PASSWORD", { minLength: 16 }) ?? "",
    operatorTokenTtlS: readInt(env, "OPERATOR_TOKEN_TTL_S", { fallback: 43_200, min: 60, max: 30 * 86_400 }),
    probeTokenTtlS: readInt(env, "PROBE_TOKEN_TTL_S", { fallback: 604_800, min: 60, max: 90 * 86_400 }),
    maxBodyBytes: readInt(env, "MAX_BODY_BYTES", { fallback: 65_536, min: 1024, max: 100 * 1024 * 1024 }),
    abuse: {
      trustedFronts: addressList(env, "TRUSTED_FRONTS"),
      rateLimitExempt: addressList(env, "RATE_LIMIT_EXEMPT"),
      lockoutAfter: readInt(env, "LOGIN_LOCKOUT_AFTER", { fallback: 5, min: 1, max: 10 }),
      lockoutBaseS: readInt(env, "LOGIN_LOCKOUT_BASE_S", { fallback: 2, min: 1, max: 3600 }),
      lockoutMaxS: readInt(env, "LOGIN_LOCKOUT_MAX_S", { fallback: 900, min: 10, max: 86_400 }),
      failureWindowS: readInt(env, "LOGIN_FAILURE_WINDOW_S", { fallback: 900, min: 60, max: 86_400 }),
    },
    groupCommit: readBool(env, "GROUP_COMMIT", true),
    commitWaitMs: readInt(env, "COMMIT_WAIT_MS", { fallback: 25_000, min: 10, max: 60_000 }),
    testHelpers: helpers,
    minions: {
      monitorIntervalMs: readInt(env, "MONITOR_INTERVAL_MS", { fallback: 15_000, min: 1, max: 86_400_000 }),
      beaconIntervalS: readInt(env, "BEACON_INTERVAL_S", { fallback: 10, min: 1, max: 3600 }),
      beaconRetry: readInt(env, "BEACON_RETRY", { fallback: 3, min: 1, max: 100 }),
      beaconValidityS: readInt(env, "BEACON_VALIDITY_S", { fallback: 45, min: 1, max: 86_400 }),
      proxyTimeoutMs: readInt(env, "PROXY_TIMEOUT_MS", { fallback: 20_000, min: 1, max: 120_000 }),
      benchSeed: readBool(env, "MINIONS_BENCH_SEED", false),
    },
  };
});
