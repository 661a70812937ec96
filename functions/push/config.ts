import type { ProviderName } from "./types";
import { parseServiceAccount, type ServiceAccount } from "./fcm";
import type { ApnsKey } from "./apns";

/**
 * Push settings, parsed on use. A broken push credential must not take the API down: the provider is
 * reported unavailable (with the reason, logged) and its probes are left to pull their tasks.
 */
export type PushConfig = {
  gorushUrl: string | null;
  fcm: { account: ServiceAccount; baseUrl: string } | null;
  apns: (ApnsKey & { topic: string; baseUrl: string }) | null;
  timeoutMs: number;
  problems: string[];
};

const DEFAULT_TIMEOUT_MS = 10_000;

export function pushConfigFrom(env: Env): PushConfig {
  const problems: string[] = [];
  let fcm: PushConfig["fcm"] = null;
  if (env.FCM_SERVICE_ACCOUNT) {
    try {
      fcm = { account: parseServiceAccount(env.FCM_SERVICE_ACCOUNT), baseUrl: env.FCM_BASE_URL || "https://fcm.googleapis.com" };
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
      baseUrl: env.APNS_BASE_URL || "https://api.push.apple.com",
    };
  } else if (apnsParts.some((p) => p)) {
    problems.push("APNs needs all of APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC");
  }
  const t = Number(env.PUSH_TIMEOUT_MS);
  return {
    gorushUrl: env.GORUSH_URL ? env.GORUSH_URL.replace(/\/+$/, "") : null,
    fcm,
    apns,
    timeoutMs: Number.isFinite(t) && t > 0 ? t : DEFAULT_TIMEOUT_MS,
    problems,
  };
}

/**
 * Routing: a gorush gateway, when configured, carries everything (it holds its own credentials); otherwise
 * Android goes to FCM and iOS to APNs when their credentials are set. Anything else has no push channel
 * and pulls its tasks (GET /api/v1/tasks).
 */
export function chooseProvider(config: Pick<PushConfig, "gorushUrl" | "fcm" | "apns">, platform: string): ProviderName | null {
  const p = platform.toLowerCase();
  if (p !== "android" && p !== "ios") return null;
  if (config.gorushUrl) return "gorush";
  if (p === "android" && config.fcm) return "fcm";
  if (p === "ios" && config.apns) return "apns";
  return null;
}
