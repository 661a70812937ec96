import { importPKCS8, SignJWT } from "jose";
import { z } from "zod";
import type { Clock } from "../lib/clock";
import { apnsRequest } from "./apns";
import { apnsExpiration, networkFailure, oversize, PUSH_TTL_S, pushData, retryAfterMs } from "./payload";
import { pool } from "../lib/pool";
import type { PushMessage, PushProvider, PushResult, PushTarget, SendManyOptions } from "./types";

/** The fields of a Google service-account key file (FCM_SERVICE_ACCOUNT) that the HTTP v1 flow needs. */
export const ServiceAccount = z.object({
  type: z.literal("service_account").optional(),
  project_id: z.string().min(1),
  private_key_id: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY"),
  client_email: z.string().min(3),
  token_uri: z.url().default("https://oauth2.googleapis.com/token"),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

export function parseServiceAccount(json: string): ServiceAccount {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error("FCM_SERVICE_ACCOUNT is not JSON");
  }
  const r = ServiceAccount.safeParse(raw);
  if (!r.success) throw new Error(`FCM_SERVICE_ACCOUNT is not a service-account key: ${r.error.issues.map((i) => i.path.join(".")).join(", ")}`);
  return r.data;
}

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

/** The RS256 JWT-bearer assertion exchanged at the service account's own token_uri (as Google's libraries do). */
export async function fcmAssertion(sa: ServiceAccount, clock: Clock): Promise<string> {
  const now = Math.floor(clock.now().getTime() / 1000);
  const key = await importPKCS8(sa.private_key, "RS256");
  return new SignJWT({ scope: FCM_SCOPE })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: sa.private_key_id })
    .setIssuer(sa.client_email)
    .setSubject(sa.client_email)
    .setAudience(sa.token_uri)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(key);
}

export type AccessToken = { token: string; expiresAt: number };

/** OAuth2 token exchange. Throws on any non-200 answer (the caller keeps no half-made token). */
export async function exchangeAssertion(
  sa: ServiceAccount,
  assertion: string,
  clock: Clock,
  timeoutMs: number,
  fetcher: typeof fetch = fetch,
): Promise<AccessToken> {
  const res = await fetcher(sa.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as { access_token?: string; expires_in?: number };
  if (!body.access_token || typeof body.expires_in !== "number") throw new Error("token endpoint answered without access_token/expires_in");
  return { token: body.access_token, expiresAt: clock.now().getTime() + body.expires_in * 1000 };
}

/**
 * One message per device, carrying the one payload (payload.ts pushData) as FCM `data`. Android: a data message
 * (priority high for tasks so a dozing device wakes), an alert's text as `notification.body`. iOS (an app registered
 * with Firebase, whose token is an FCM registration token): FCM hands the `apns` block to Apple over HTTP/2, so it
 * carries what a direct APNs request would (apns.ts apnsRequest: background push at priority 5 for tasks), and FCM
 * puts the data keys beside `aps`. Both expire after PUSH_TTL_S.
 */
export function fcmBody(target: PushTarget, m: PushMessage, nowMs: number): string {
  const data = pushData(m);
  if (target.platform.toLowerCase() === "ios") {
    const apns = apnsRequest(m);
    const { aps } = JSON.parse(apns.body) as { aps: unknown };
    const headers = { ...apns.headers, "apns-expiration": String(apnsExpiration(nowMs)) };
    return JSON.stringify({ message: { token: target.token, data, apns: { headers, payload: { aps } } } });
  }
  const message: Record<string, unknown> = {
    token: target.token,
    data,
    android: { priority: m.kind === "task" ? "high" : "normal", ttl: `${PUSH_TTL_S}s` },
  };
  if (m.kind === "alert" && m.message) message.notification = { body: m.message };
  return JSON.stringify({ message });
}

type FcmErrorBody = { error?: { code?: number; status?: string; message?: string; details?: { "@type"?: string; errorCode?: string }[] } };

/** FCM HTTP v1's documented error codes onto the one PushResult. */
export function mapFcmResponse(status: number, bodyText: string, retryAfter: string | null, clock: Clock): PushResult {
  if (status === 200) {
    let name: string | undefined;
    try {
      name = (JSON.parse(bodyText) as { name?: string }).name;
    } catch {
      // 200 without a JSON body still means accepted
    }
    return { outcome: "sent", provider: "fcm", status, providerMessageId: name };
  }
  let body: FcmErrorBody = {};
  try {
    body = JSON.parse(bodyText) as FcmErrorBody;
  } catch {
    // non-JSON error page
  }
  const fcmCode = body.error?.details?.find((d) => d.errorCode)?.errorCode;
  const code = fcmCode ?? body.error?.status ?? `HTTP ${status}`;
  const error = `${code}${body.error?.message ? `: ${body.error.message}` : ""}`;
  if (code === "UNREGISTERED" || (status === 404 && code === "NOT_FOUND")) return { outcome: "token-expired", provider: "fcm", status, error };
  // INVALID_ARGUMENT is about the token when it is the only thing we vary; FCM says so in the message.
  if (code === "INVALID_ARGUMENT" && /token/i.test(body.error?.message ?? "registration token")) {
    return { outcome: "token-expired", provider: "fcm", status, error };
  }
  if (status === 429 || code === "QUOTA_EXCEEDED" || code === "RESOURCE_EXHAUSTED" || status >= 500 || code === "UNAVAILABLE" || code === "INTERNAL") {
    return { outcome: "retry", provider: "fcm", status, error, retryAfterMs: retryAfterMs(retryAfter, clock.now().getTime()) };
  }
  return { outcome: "rejected", provider: "fcm", status, error };
}

/** Where access tokens come from: the shared credentials Durable Object (minted once, not per request). */
export interface AccessTokenSource {
  fcmAccessToken(forceRefresh?: boolean): Promise<string>;
}

export class FcmProvider implements PushProvider {
  readonly name = "fcm" as const;
  constructor(
    private readonly opts: {
      baseUrl: string;
      projectId: string;
      tokens: AccessTokenSource;
      clock: Clock;
      timeoutMs: number;
      /** Defaults to the global fetch; tests pass their own so they never patch a global other tests share. */
      fetcher?: typeof fetch;
    },
  ) {}

  /** FCM HTTP v1 takes one message per request: `connections` requests in flight. */
  async sendMany(items: { target: PushTarget; message: PushMessage }[], o: SendManyOptions): Promise<(PushResult | null)[]> {
    const results: (PushResult | null)[] = items.map(() => null);
    await pool(
      items.map((_, i) => i),
      o.connections,
      async (i) => {
        if (o.beforeRequest && !o.beforeRequest()) return;
        results[i] = await this.send(items[i].target, items[i].message);
      },
    );
    return results;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const body = fcmBody(target, message, this.opts.clock.now().getTime());
    const tooBig = oversize("fcm", body);
    if (tooBig) return tooBig;
    const url = `${this.opts.baseUrl.replace(/\/+$/, "")}/v1/projects/${encodeURIComponent(this.opts.projectId)}/messages:send`;
    const attempt = async (force: boolean) => {
      const token = await this.opts.tokens.fcmAccessToken(force);
      return (this.opts.fetcher ?? fetch)(url, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    };
    try {
      let res = await attempt(false);
      // A revoked or expired access token: mint a fresh one once, then give FCM's answer as it is.
      if (res.status === 401) {
        await res.body?.cancel();
        res = await attempt(true);
      }
      return mapFcmResponse(res.status, await res.text(), res.headers.get("retry-after"), this.opts.clock);
    } catch (e) {
      return networkFailure("fcm", e);
    }
  }
}
