import { systemClock } from "../lib/clock";
import { chooseProvider, type PushConfig, pushConfigFrom } from "./config";
import { FcmProvider } from "./fcm";
import { GorushProvider } from "./gorush";
import type { PushProvider, PushTarget } from "./types";

export type { PushMessage, PushProvider, PushResult, PushTarget } from "./types";

/** Tokens the credentials object handed this isolate, reused for a minute so a burst of pushes is not a burst of RPCs. */
const MEMO_MS = 60_000;
const memo = new Map<string, { token: string; until: number }>();

async function remembered(key: string, force: boolean, get: (force: boolean) => Promise<string>): Promise<string> {
  const hit = memo.get(key);
  if (!force && hit && hit.until > Date.now()) return hit.token;
  const token = await get(force);
  memo.set(key, { token, until: Date.now() + MEMO_MS });
  return token;
}

/**
 * The shared credential cache: one Durable Object for the whole deployment mints and refreshes the tokens
 * (docs/push.md); each isolate keeps the answer for a minute (the object rotates APNs tokens at 50 minutes and
 * refreshes FCM tokens 5 minutes early, so a memoised token is always still valid). A forced refresh skips the memo.
 */
export function credentials(env: Env) {
  const stub = env.PUSH_CREDENTIALS.getByName("global");
  return {
    fcmAccessToken: (force = false) => remembered("fcm", force, (f) => stub.fcmAccessToken(f)),
    apnsProviderToken: (force = false) => remembered("apns", force, (f) => stub.apnsProviderToken(f)),
  };
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
      return new GorushProvider({ ...config.gorush!, timeoutMs, clock: systemClock });
    case "fcm":
      return new FcmProvider({
        baseUrl: config.fcm!.baseUrl,
        projectId: config.fcm!.account.project_id,
        tokens: credentials(env),
        clock: systemClock,
        timeoutMs,
      });
    default:
      return null;
  }
}
