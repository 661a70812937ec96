import { importPKCS8, SignJWT } from "jose";
import type { Clock } from "../lib/clock";
import { apnsCollapseId, networkFailure, oversize, pushData, retryAfterMs } from "./payload";
import type { PushMessage, PushProvider, PushResult, PushTarget } from "./types";

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

/** Tasks go as background pushes (content-available, no alert); alerts as visible alerts. */
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

/** APNs' documented reasons onto the one PushResult. */
export function mapApnsResponse(status: number, bodyText: string, apnsId: string | null, retryAfter: string | null, clock: Clock): PushResult {
  if (status === 200) return { outcome: "sent", provider: "apns", status, providerMessageId: apnsId ?? undefined };
  let reason = `HTTP ${status}`;
  try {
    reason = (JSON.parse(bodyText) as { reason?: string }).reason ?? reason;
  } catch {
    // no JSON body
  }
  if (status === 410 || reason === "Unregistered" || reason === "BadDeviceToken" || reason === "DeviceTokenNotForTopic") {
    return { outcome: "token-expired", provider: "apns", status, error: reason };
  }
  if (status === 429 || status >= 500) {
    return { outcome: "retry", provider: "apns", status, error: reason, retryAfterMs: retryAfterMs(retryAfter, clock.now().getTime()) };
  }
  // ExpiredProviderToken / InvalidProviderToken: our credentials, not the device. Retrying with a fresh token can help.
  if (status === 403 && (reason === "ExpiredProviderToken" || reason === "InvalidProviderToken")) {
    return { outcome: "retry", provider: "apns", status, error: reason };
  }
  return { outcome: "rejected", provider: "apns", status, error: reason };
}

export interface ProviderTokenSource {
  apnsProviderToken(forceRefresh?: boolean): Promise<string>;
}

export class ApnsProvider implements PushProvider {
  readonly name = "apns" as const;
  constructor(
    private readonly opts: {
      baseUrl: string;
      topic: string;
      tokens: ProviderTokenSource;
      clock: Clock;
      timeoutMs: number;
      /** Defaults to the global fetch; tests pass their own so they never patch a global other tests share. */
      fetcher?: typeof fetch;
    },
  ) {}

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const { headers, body } = apnsRequest(message);
    const tooBig = oversize("apns", body);
    if (tooBig) return tooBig;
    if (!/^[0-9a-fA-F]{64,200}$/.test(target.token)) {
      return { outcome: "token-expired", provider: "apns", status: 0, error: "BadDeviceToken (not a hex device token)" };
    }
    const url = `${this.opts.baseUrl.replace(/\/+$/, "")}/3/device/${target.token}`;
    const expiration = Math.floor(this.opts.clock.now().getTime() / 1000) + 3600;
    const attempt = async (force: boolean) =>
      (this.opts.fetcher ?? fetch)(url, {
        method: "POST",
        headers: {
          authorization: `bearer ${await this.opts.tokens.apnsProviderToken(force)}`,
          "apns-topic": this.opts.topic,
          "apns-expiration": String(expiration),
          "content-type": "application/json",
          ...headers,
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    try {
      let res = await attempt(false);
      if (res.status === 403) {
        const text = await res.text();
        const r = mapApnsResponse(res.status, text, null, null, this.opts.clock);
        if (r.outcome !== "retry") return r;
        res = await attempt(true);
      }
      return mapApnsResponse(res.status, await res.text(), res.headers.get("apns-id"), res.headers.get("retry-after"), this.opts.clock);
    } catch (e) {
      return networkFailure("apns", e);
    }
  }
}
