import { z } from "zod";
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
  /** Minion registry (spec §4): status poll period, agent beacon schedule and validity, relay timeout. */
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

const positiveInt = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ApiError("misconfigured", `setting ${name} must be a positive integer`);
  return n;
};

const onOff = (name: string, raw: string | undefined, fallback: boolean): boolean => {
  if (raw === undefined || raw === "") return fallback;
  if (raw === "on" || raw === "off") return raw === "on";
  throw new ApiError("misconfigured", `setting ${name} must be "on" or "off"`);
};

const cache = new WeakMap<object, Settings>();

export function settingsFrom(env: Env): Settings {
  const hit = cache.get(env);
  if (hit) return hit;
  const secret = env.JWT_SECRET ?? "";
  if (secret.length < 32) throw new ApiError("misconfigured", "setting JWT_SECRET must be at least 32 characters");
  let base: URL;
  try {
    base = new URL(env.PUBLIC_BASE_URL);
  } catch {
    throw new ApiError("misconfigured", "setting PUBLIC_BASE_URL must be an absolute URL");
  }
  let helpers: Settings["testHelpers"] = {};
  if (env.TEST_HELPERS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.TEST_HELPERS);
    } catch {
      throw new ApiError("misconfigured", "setting TEST_HELPERS must be JSON");
    }
    const r = testHelpersSchema.safeParse(parsed);
    if (!r.success) throw new ApiError("misconfigured", "setting TEST_HELPERS must map names to lists of {address, type}");
    helpers = r.data;
  }
  const s: Settings = {
    publicBaseUrl: base.toString().replace(/\/+$/, ""),
    jwtSecret: new TextEncoder().encode(secret),
    adminUsername: env.ADMIN_USERNAME || "admin",
    adminPassword: env.ADMIN_PASSWORD ?? "",
    operatorTokenTtlS: positiveInt("OPERATOR_TOKEN_TTL_S", env.OPERATOR_TOKEN_TTL_S, 43_200),
    probeTokenTtlS: positiveInt("PROBE_TOKEN_TTL_S", env.PROBE_TOKEN_TTL_S, 604_800),
    maxBodyBytes: positiveInt("MAX_BODY_BYTES", env.MAX_BODY_BYTES, 65_536),
    groupCommit: onOff("GROUP_COMMIT", env.GROUP_COMMIT, true),
    testHelpers: helpers,
    minions: {
      monitorIntervalMs: positiveInt("MONITOR_INTERVAL_MS", env.MONITOR_INTERVAL_MS, 15_000),
      beaconIntervalS: positiveInt("BEACON_INTERVAL_S", env.BEACON_INTERVAL_S, 10),
      beaconRetry: positiveInt("BEACON_RETRY", env.BEACON_RETRY, 3),
      beaconValidityS: positiveInt("BEACON_VALIDITY_S", env.BEACON_VALIDITY_S, 45),
      proxyTimeoutMs: positiveInt("PROXY_TIMEOUT_MS", env.PROXY_TIMEOUT_MS, 20_000),
      benchSeed: env.MINIONS_BENCH_SEED === "1",
    },
  };
  cache.set(env, s);
  return s;
}
