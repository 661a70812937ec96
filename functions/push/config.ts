import { cachedSettings, readBool, readInt, readUrl } from "../lib/config";
import { ApiError } from "../lib/errors";
import type { ApnsKey } from "./apns";
import { type Budget, DEFAULT_BUDGETS } from "./budget";
import { parseServiceAccount, type ServiceAccount } from "./fcm";
import type { ProviderName } from "./types";
import { log } from "../lib/log";

/**
 * Every push setting, parsed once per environment. A broken credential must not take the API down: that
 * provider is reported unavailable (the reason is logged once per isolate) and its probes pull their tasks.
 */
export type PushConfig = {
  /** `sync`: the gateway runs with core.sync: true (GORUSH_SYNC), so its answers report failed pushes (docs/push.md). */
  gorush: { url: string; authorization: string | null; iosTopic: string; androidClickAction: string; sync: boolean; batch?: number } | null;
  /** `ios`: the app registers with Firebase on iOS too (FCM_IOS), so iOS tokens are FCM tokens and FCM carries iOS pushes. */
  fcm: { account: ServiceAccount; baseUrl: string; ios: boolean } | null;
  /** An APNs key, minted into provider tokens by durable-objects/push-credentials.ts; no push goes to APNs from here. */
  apns: (ApnsKey & { topic: string }) | null;
  timeoutMs: number;
  /** Push requests one scheduler invocation keeps in flight (PUSH_CONNECTIONS; the platform allows 6 open connections). */
  connections: number;
  maxAttempts: number;
  budgets: Record<"ios" | "android", Budget>;
  problems: string[];
};

/**
 * Why this configuration cannot deliver, or null. Apple's provider API is HTTP/2 only (ALPN h2), and a Worker has no
 * way to speak it: fetch() talks HTTP/1.1 to origins (against an HTTP/2-only server it hangs until its timeout),
 * cloudflare:sockets offers no ALPN, node:tls refuses ALPNProtocols and node:http2.connect is not implemented
 * (test/e2e/push-ios-paths.test.mjs shows each inside workerd). So an APNs key without a gateway is refused at the
 * first use (cron start, a push) instead of timing out push after push in production.
 */
export function undeliverable(
  env: Pick<Env, "GORUSH_URL"> & Partial<Record<"APNS_KEY" | "APNS_KEY_ID" | "APNS_TEAM_ID" | "APNS_TOPIC" | "FCM_IOS" | "FCM_SERVICE_ACCOUNT", string>>,
): string | null {
  if (!env.GORUSH_URL && [env.APNS_KEY, env.APNS_KEY_ID, env.APNS_TEAM_ID, env.APNS_TOPIC].some((p) => p)) {
    return (
      "APNS_* is set without GORUSH_URL, but a Worker cannot deliver to APNs (HTTP/2 only; a Worker's fetch speaks HTTP/1.1): " +
      "give the APNs key to a gorush gateway and set GORUSH_URL, or register the iOS app with Firebase and set FCM_IOS=on (docs/push.md)"
    );
  }
  if (!env.GORUSH_URL && readBool(env, "FCM_IOS", false) && !env.FCM_SERVICE_ACCOUNT) return "setting FCM_IOS=on needs FCM_SERVICE_ACCOUNT";
  return null;
}

/**
 * Push settings in the one dialect (lib/config.ts): a malformed knob is `misconfigured`, as everywhere. A provider
 * credential that is present but unusable switches that provider off, with the reason logged, so its probes pull.
 */
export const pushConfigFrom = cachedSettings((env: Env): PushConfig => {
  const refused = undeliverable(env);
  if (refused) throw new ApiError("misconfigured", refused);
  const problems: string[] = [];
  const gorushSync = readBool(env, "GORUSH_SYNC", false);
  const fcmIos = readBool(env, "FCM_IOS", false);
  let gorush: PushConfig["gorush"] = null;
  if (env.GORUSH_URL) {
    try {
      gorush = {
        url: new URL(env.GORUSH_URL).toString().replace(/\/+$/, ""),
        authorization: env.GORUSH_AUTHORIZATION || null,
        iosTopic: env.GORUSH_IOS_TOPIC ?? "",
        androidClickAction: env.GORUSH_ANDROID_CLICK_ACTION ?? "",
        sync: gorushSync,
        batch: readInt(env, "GORUSH_BATCH", { fallback: 100, min: 1, max: 1000 }),
      };
    } catch {
      problems.push("GORUSH_URL must be an absolute URL");
    }
  }
  let fcm: PushConfig["fcm"] = null;
  if (env.FCM_SERVICE_ACCOUNT) {
    try {
      fcm = {
        account: parseServiceAccount(env.FCM_SERVICE_ACCOUNT),
        baseUrl: readUrl(env, "FCM_BASE_URL", "https://fcm.googleapis.com"),
        ios: fcmIos,
      };
    } catch (e) {
      problems.push(String((e as Error).message));
    }
  }
  let apns: PushConfig["apns"] = null;
  const apnsParts = [env.APNS_KEY, env.APNS_KEY_ID, env.APNS_TEAM_ID, env.APNS_TOPIC];
  if (apnsParts.every((p) => p)) {
    apns = {
      key: env.APNS_KEY!,
      keyId: env.APNS_KEY_ID!,
      teamId: env.APNS_TEAM_ID!,
      topic: env.APNS_TOPIC!,
    };
  } else if (apnsParts.some((p) => p)) {
    problems.push("APNs needs all of APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC");
  }
  const iosPerHour = readInt(env, "PUSH_BUDGET_IOS_PER_HOUR", { fallback: DEFAULT_BUDGETS.ios.perHour, min: 1, max: 1000 });
  const androidPerHour = readInt(env, "PUSH_BUDGET_ANDROID_PER_HOUR", { fallback: DEFAULT_BUDGETS.android.perHour, min: 1, max: 5000 });
  const config: PushConfig = {
    gorush,
    fcm,
    apns,
    timeoutMs: readInt(env, "PUSH_TIMEOUT_MS", { fallback: 10_000, min: 100, max: 60_000 }),
    connections: readInt(env, "PUSH_CONNECTIONS", { fallback: 4, min: 1, max: 6 }),
    maxAttempts: readInt(env, "PUSH_MAX_ATTEMPTS", { fallback: 6, min: 1, max: 20 }),
    budgets: {
      ios: { perHour: iosPerHour, perMinute: Math.min(iosPerHour, DEFAULT_BUDGETS.ios.perMinute) },
      // FCM allows 240/min per device; the collapsible burst is 20.
      android: {
        perHour: androidPerHour,
        perMinute: Math.min(androidPerHour, 240, Math.max(DEFAULT_BUDGETS.android.perMinute, Math.ceil(androidPerHour / 6))),
      },
    },
    problems,
  };
  if (problems.length) log.error("push config", "push settings have problems; affected providers are off", { problems });
  return config;
});

/**
 * Routing: a gorush gateway, when configured, carries everything (it holds its own credentials and speaks HTTP/2 to
 * Apple); otherwise Android goes to FCM, and iOS too when the app registers with Firebase (FCM_IOS). Anything else
 * has no push channel and pulls its tasks (GET /api/v1/tasks).
 */
export function chooseProvider(config: Pick<PushConfig, "gorush" | "fcm">, platform: string): ProviderName | null {
  const p = platform.toLowerCase();
  if (p !== "android" && p !== "ios") return null;
  if (config.gorush) return "gorush";
  if (p === "android" && config.fcm) return "fcm";
  if (p === "ios" && config.fcm?.ios) return "fcm";
  return null;
}
