import { campaignSettings } from "../campaigns/settings";
import { GorushProvider, gorushPlatform } from "./gorush";
import type { PushProvider, PushTarget } from "./types";

export type { PushMessage, PushProvider, PushResult, PushTarget } from "./types";

/**
 * Which provider wakes this probe: the gorush gateway for every platform it serves when GORUSH_URL is set;
 * otherwise null, and the probe pulls its tasks (GET /api/v1/tasks). Direct FCM/APNs will slot in here.
 */
export function selectProvider(env: Env, target: PushTarget): PushProvider | null {
  const s = campaignSettings(env);
  if (!s.gorushUrl || !target.token || gorushPlatform(target.platform) === null) return null;
  return new GorushProvider({
    url: s.gorushUrl,
    authorization: s.gorushAuthorization,
    iosTopic: s.gorushIosTopic,
    androidClickAction: s.gorushAndroidClickAction,
    timeoutMs: s.pushTimeoutMs,
  });
}
