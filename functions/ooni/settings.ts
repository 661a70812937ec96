import { z } from "zod";
import { ApiError } from "../lib/errors";
import { type FeatureMap, OONI_DEFAULT_FEATURES } from "./features";

/**
 * Settings of the OONI probe-services surface. Built with the shared readers' dialect (a bad value throws
 * `misconfigured` on the first request that needs it); the readers below are local until functions/lib/config.ts lands.
 */
export type OoniSettings = {
  /** CHECKIN_FEATURES: the check-in's `conf.features` before campaign overrides. */
  checkinFeatures: FeatureMap;
  /** PROBE_SERVICES_UPSTREAM: OONI probe services base URL that submissions are relayed to; null = hand-off off. */
  upstream: string | null;
  /** OONI_UPSTREAM_TIMEOUT_MS: a relayed call taking longer is answered 502 bad_gateway. */
  upstreamTimeoutMs: number;
  /** OONI_UPSTREAM_MAX_BODY_BYTES: largest measurement body relayed (and largest upstream answer read). */
  upstreamMaxBodyBytes: number;
  /** CAMPAIGN_TESTS: the tests a campaign may ask probes to run. */
  campaignTests: string[];
  /** OONI_COLLECTOR_ID: the `n<id>` part of the report_ids handed out at check-in. */
  collectorId: string;
  /** TEST_LIST_MAX_BYTES: largest CSV the test-list import accepts. */
  testListMaxBytes: number;
};

/** The tests OONI Probe's apps ship (websites, instant messaging, middleboxes, performance, circumvention, experimental). */
export const OONI_APP_TESTS = [
  "web_connectivity",
  "facebook_messenger",
  "signal",
  "telegram",
  "whatsapp",
  "http_invalid_request_line",
  "http_header_field_manipulation",
  "ndt",
  "dash",
  "psiphon",
  "tor",
  "torsf",
  "dnscheck",
  "stunreachability",
  "echcheck",
] as const;

type RawEnv = Record<string, string | undefined>;

function readInt(env: RawEnv, name: string, o: { fallback: number; min: number; max: number }): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return o.fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < o.min || n > o.max) throw new ApiError("misconfigured", `${name} must be an integer in ${o.min}..${o.max}`);
  return n;
}

function readJson<T>(env: RawEnv, name: string, schema: z.ZodType<T>, fallback: T, what: string): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError("misconfigured", `${name} must be JSON: ${what}`);
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw new ApiError("misconfigured", `${name} must be ${what}`);
  return r.data;
}

function readOptionalUrl(env: RawEnv, name: string): string | null {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ApiError("misconfigured", `${name} must be an absolute http(s) URL or empty`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new ApiError("misconfigured", `${name} must be an absolute http(s) URL or empty`);
  return u.toString().replace(/\/+$/, "");
}

function readString(env: RawEnv, name: string, fallback: string, re: RegExp, what: string): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!re.test(raw)) throw new ApiError("misconfigured", `${name} must be ${what}`);
  return raw;
}

const cache = new WeakMap<object, OoniSettings>();

export function ooniSettings(env: Env): OoniSettings {
  const hit = cache.get(env);
  if (hit) return hit;
  const e = env as unknown as RawEnv;
  const s: OoniSettings = {
    checkinFeatures: readJson(e, "CHECKIN_FEATURES", z.record(z.string().min(1).max(64), z.boolean()), OONI_DEFAULT_FEATURES, "a JSON object of booleans"),
    upstream: readOptionalUrl(e, "PROBE_SERVICES_UPSTREAM"),
    upstreamTimeoutMs: readInt(e, "OONI_UPSTREAM_TIMEOUT_MS", { fallback: 15_000, min: 100, max: 120_000 }),
    upstreamMaxBodyBytes: readInt(e, "OONI_UPSTREAM_MAX_BODY_BYTES", { fallback: 4 * 1024 * 1024, min: 1024, max: 50 * 1024 * 1024 }),
    campaignTests: readJson(
      e,
      "CAMPAIGN_TESTS",
      z.array(z.string().regex(/^[a-z0-9_]{1,64}$/)).min(1),
      [...OONI_APP_TESTS],
      "a JSON list of test names (lower case, _)",
    ),
    collectorId: readString(e, "OONI_COLLECTOR_ID", "1", /^[A-Za-z0-9]{1,16}$/, "1-16 letters or digits"),
    testListMaxBytes: readInt(e, "TEST_LIST_MAX_BYTES", { fallback: 2 * 1024 * 1024, min: 1024, max: 20 * 1024 * 1024 }),
  };
  cache.set(env, s);
  return s;
}
