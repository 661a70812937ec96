import { systemClock } from "../lib/clock";
import { ApnsProvider } from "./apns";
import { chooseProvider, type PushConfig, pushConfigFrom } from "./config";
import { FcmProvider } from "./fcm";
import type { PushProvider, PushTarget } from "./types";

/** The shared credential cache: one Durable Object for the whole deployment. */
export function credentials(env: Env) {
  return env.PUSH_CREDENTIALS.getByName("global");
}

/** Direct providers (FCM, APNs) for a target, or null when it has no direct channel. */
export function directProvider(env: Env, target: PushTarget, config: PushConfig = pushConfigFrom(env)): PushProvider | null {
  const which = chooseProvider({ gorushUrl: null, fcm: config.fcm, apns: config.apns }, target.platform);
  const tokens = credentials(env);
  if (which === "fcm" && config.fcm) {
    return new FcmProvider({ baseUrl: config.fcm.baseUrl, projectId: config.fcm.account.project_id, tokens, clock: systemClock, timeoutMs: config.timeoutMs });
  }
  if (which === "apns" && config.apns) {
    return new ApnsProvider({ baseUrl: config.apns.baseUrl, topic: config.apns.topic, tokens, clock: systemClock, timeoutMs: config.timeoutMs });
  }
  return null;
}
