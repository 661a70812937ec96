import { z } from "zod";
import { cachedSettings, readInt, readJson, readString, readUrl } from "../lib/config";
import { ApiError } from "../lib/errors";
import { type FeatureMap, OONI_DEFAULT_FEATURES } from "./features";

/**
 * Settings of the OONI probe-services surface, built with the shared readers (functions/lib/config.ts): a bad
 * value throws `misconfigured` on the first request that needs it.
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

export const ooniSettings = cachedSettings(
  (env): OoniSettings => ({
    checkinFeatures: readJson(env, "CHECKIN_FEATURES", z.record(z.string().min(1).max(64), z.boolean()), OONI_DEFAULT_FEATURES),
    upstream: readUrl(env, "PROBE_SERVICES_UPSTREAM"),
    upstreamTimeoutMs: readInt(env, "OONI_UPSTREAM_TIMEOUT_MS", { fallback: 15_000, min: 100, max: 120_000 }),
    upstreamMaxBodyBytes: readInt(env, "OONI_UPSTREAM_MAX_BODY_BYTES", { fallback: 4 * 1024 * 1024, min: 1024, max: 50 * 1024 * 1024 }),
    campaignTests: readJson(env, "CAMPAIGN_TESTS", z.array(z.string().regex(/^[a-z0-9_]{1,64}$/)).min(1), [...OONI_APP_TESTS]),
    collectorId: collectorId(readString(env, "OONI_COLLECTOR_ID", "1")),
    testListMaxBytes: readInt(env, "TEST_LIST_MAX_BYTES", { fallback: 2 * 1024 * 1024, min: 1024, max: 20 * 1024 * 1024 }),
  }),
);

function collectorId(s: string): string {
  if (!/^[A-Za-z0-9]{1,16}$/.test(s)) throw new ApiError("misconfigured", "setting OONI_COLLECTOR_ID must be 1-16 letters or digits");
  return s;
}
