import { APNS_TOKEN_MIN_AGE_S, APNS_TOKEN_ROTATE_AGE_S } from "./apns";
import type { AccessToken } from "./fcm";

/** Refresh an FCM access token this long before Google's expiry. */
export const FCM_REFRESH_MARGIN_MS = 5 * 60_000;

export function fcmTokenFresh(cached: AccessToken | null | undefined, nowMs: number): cached is AccessToken {
  return !!cached && cached.expiresAt - nowMs > FCM_REFRESH_MARGIN_MS;
}

export type ApnsCached = { token: string; iat: number };

/**
 * Whether to mint a new APNs provider token. Apple answers 429 TooManyProviderTokenUpdates when a team
 * rotates more than once in 20 minutes and 403 ExpiredProviderToken after 60: reuse until 50 minutes, and
 * honour a forced refresh (after a 403) only once the current token is at least 20 minutes old.
 */
export function apnsShouldMint(cached: ApnsCached | null | undefined, nowS: number, force: boolean): boolean {
  if (!cached) return true;
  const age = nowS - cached.iat;
  if (age >= APNS_TOKEN_ROTATE_AGE_S || age < 0) return true;
  return force && age >= APNS_TOKEN_MIN_AGE_S;
}
