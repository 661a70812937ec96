import { z } from "zod";
import { cachedSettings, readBool, readInt, readJson, readSecret, readUrl } from "./config";
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
  /** Concurrent probe writes share D1 round trips (GROUP_COMMIT, "on" unless "off"). */
  groupCommit: boolean;
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
    adminPassword: env.ADMIN_PASSWORD ?? "",
    operatorTokenTtlS: readInt(env, "OPERATOR_TOKEN_TTL_S", { fallback: 43_200, min: 60, max: 30 * 86_400 }),
    probeTokenTtlS: readInt(env, "PROBE_TOKEN_TTL_S", { fallback: 604_800, min: 60, max: 90 * 86_400 }),
    maxBodyBytes: readInt(env, "MAX_BODY_BYTES", { fallback: 65_536, min: 1024, max: 100 * 1024 * 1024 }),
    groupCommit: readBool(env, "GROUP_COMMIT", true),
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
