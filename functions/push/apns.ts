import { importPKCS8, SignJWT } from "jose";
import { apnsCollapseId, pushData } from "./payload";
import type { PushMessage } from "./types";

export type ApnsKey = { key: string; keyId: string; teamId: string };

/** Apple's rules for provider tokens: refresh no more than once every 20 minutes, and at least once an hour. */
export const APNS_TOKEN_MIN_AGE_S = 20 * 60;
export const APNS_TOKEN_MAX_AGE_S = 60 * 60;
/** We rotate at 50 minutes: inside Apple's window with margin on both sides. */
export const APNS_TOKEN_ROTATE_AGE_S = 50 * 60;

/** The ES256 provider token: header {alg, kid}, claims {iss: team id, iat}. */
export async function apnsProviderToken(k: ApnsKey, iat: number): Promise<string> {
  const key = await importPKCS8(k.key, "ES256");
  return new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: k.keyId }).setIssuer(k.teamId).setIssuedAt(iat).sign(key);
}

/**
 * What Apple is to receive for a push, whoever sends it to Apple (FCM's apns block here; gorush builds the same from
 * its fields): tasks as background pushes (content-available, no alert, priority 5), alerts as visible alerts.
 * There is no direct APNs provider: Apple's provider API is HTTP/2 only and a Worker cannot speak it (docs/push.md).
 * The provider token above is still minted by the credentials object (durable-objects/push-credentials.ts), unused.
 */
export function apnsRequest(m: PushMessage): { headers: Record<string, string>; body: string } {
  const data = pushData(m);
  const collapse = apnsCollapseId(m);
  const collapseHeader: Record<string, string> = collapse ? { "apns-collapse-id": collapse } : {};
  if (m.kind === "task") {
    return {
      headers: { "apns-push-type": "background", "apns-priority": "5", ...collapseHeader },
      body: JSON.stringify({ aps: { "content-available": 1 }, ...data }),
    };
  }
  return {
    headers: { "apns-push-type": "alert", "apns-priority": "10", ...collapseHeader },
    body: JSON.stringify({ aps: { alert: { body: m.message ?? "" } }, ...data }),
  };
}

/**
 * Apple's reasons that mean the device token is dead (410 Unregistered; 400 BadDeviceToken, DeviceTokenNotForTopic).
 * gorush logs them verbatim; the FCM path learns the same through FCM's UNREGISTERED.
 */
export const APNS_DEAD_TOKEN_REASONS = ["Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"] as const;
