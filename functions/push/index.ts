import { systemClock } from "../lib/clock";
import { ApnsProvider } from "./apns";
import { chooseProvider, type PushConfig, pushConfigFrom } from "./config";
import { FcmProvider } from "./fcm";
import { GorushProvider } from "./gorush";
import type { PushProvider, PushTarget } from "./types";

export type { PushMessage, PushProvider, PushResult, PushTarget } from "./types";

/** The shared credential cache: one Durable Object for the whole deployment. */
export function credentials(env: Env) {
  return env.PUSH_CREDENTIALS.getByName("global");
}

/**
 * The provider that wakes this probe (routing in chooseProvider), or null: no token, no channel for its
 * platform, or no provider configured. A null means the probe pulls its tasks (GET /api/v1/tasks).
 */
export function selectProvider(env: Env, target: PushTarget, config: PushConfig = pushConfigFrom(env)): PushProvider | null {
  if (!target.token) return null;
  const timeoutMs = config.timeoutMs;
  switch (chooseProvider(config, target.platform)) {
    case "gorush":
      return new GorushProvider({ ...config.gorush!, timeoutMs });
    case "fcm":
      return new FcmProvider({ baseUrl: config.fcm!.baseUrl, projectId: config.fcm!.account.project_id, tokens: credentials(env), clock: systemClock, timeoutMs });
    case "apns":
      return new ApnsProvider({ baseUrl: config.apns!.baseUrl, topic: config.apns!.topic, tokens: credentials(env), clock: systemClock, timeoutMs });
    default:
      return null;
  }
}
