import { type Clock, systemClock } from "../lib/clock";
import { APNS_DEAD_TOKEN_REASONS } from "./apns";
import { apnsCollapseId, apnsExpiration, PUSH_TTL_S, pushData, retryAfterMs } from "./payload";
import { pool } from "../lib/pool";
import type { PushMessage, PushProvider, PushResult, PushTarget, SendManyOptions } from "./types";

export { retryAfterMs };

/**
 * gorush's per-token error texts that mean the token is dead, as the direct providers judge them: APNs reasons
 * verbatim (gorush logs apns2's `Reason`), FCM HTTP v1's messages (gorush 1.18+ logs the Firebase SDK's error text:
 * UNREGISTERED is "Requested entity was not found.", a malformed token INVALID_ARGUMENT "The registration token is
 * not a valid FCM registration token"), and the legacy FCM codes older gorush logged.
 */
const DEAD_TOKEN_ERRORS = new RegExp(
  [
    ...APNS_DEAD_TOKEN_REASONS.map((r) => `^${r}$`),
    "Requested entity was not found",
    "registration token is not a valid FCM registration token",
    "^NotRegistered$",
    "^InvalidRegistration$",
  ].join("|"),
);
/** Per-token errors about the provider's state, not the message (APNs reasons, FCM v1 texts, gorush's queue): try later. */
const TRANSIENT_ERRORS =
  /TooManyRequests|ServiceUnavailable|InternalServerError|Shutdown|Quota exceeded|QUOTA_EXCEEDED|currently unavailable|Internal error|deadline exceeded|timeout|max capacity reached/i;

export function isDeadTokenError(error: string): boolean {
  return DEAD_TOKEN_ERRORS.test(error.trim());
}

export type GorushOptions = {
  url: string;
  authorization?: string | null;
  iosTopic?: string;
  androidClickAction?: string;
  /**
   * The gateway runs with core.sync: true, so its answer carries a failed-push log for every push it could not
   * deliver. Without it gorush answers before pushing: the push is only "accepted" (docs/push.md).
   */
  sync?: boolean;
  timeoutMs?: number;
  /** Notifications per gateway request in sendMany (gorush's core.max_notification, 100 by default). */
  batch?: number;
  clock?: Clock;
  /** Defaults to the global fetch; tests pass their own so they never touch a global other tests share. */
  fetcher?: typeof fetch;
};

const PLATFORM: Record<string, number> = { ios: 1, android: 2, huawei: 3 };

export function gorushPlatform(platform: string): number | null {
  return PLATFORM[platform.toLowerCase()] ?? null;
}

/**
 * One notification for one token, carrying the payload the direct providers carry (payload.ts pushData) as gorush
 * turns its fields into an APNs request or an FCM HTTP v1 message:
 * - iOS task: `push_type: background` + `priority: normal` (gorush's apns2 would otherwise send apns-push-type alert
 *   at priority 10), `content_available`, no message (no alert); iOS alert: `push_type: alert`, `priority: high`.
 *   Both with the topic, `expiration` and the collapse id.
 * - Android: `priority: high` for tasks (gorush copies it to android.priority), `android.ttl`; an alert's text as
 *   `message` (gorush makes it the notification body) and the click action in `android.notification.click_action`,
 *   where FCM v1 reads it. No `notification` object: an empty one is not a data message.
 * `notif_id` comes back on any failed-push log entry.
 */
export function gorushBody(
  target: PushTarget,
  message: PushMessage,
  opts: Pick<GorushOptions, "iosTopic" | "androidClickAction">,
  nowMs: number,
  notifId: string,
) {
  const platform = gorushPlatform(target.platform);
  const task = message.kind === "task";
  const common = { notif_id: notifId, tokens: [target.token], platform, data: pushData(message) };
  if (platform === 1) {
    const collapseId = apnsCollapseId(message);
    return {
      notifications: [
        {
          ...common,
          topic: opts.iosTopic ?? "",
          push_type: task ? "background" : "alert",
          priority: task ? "normal" : "high",
          ...(task ? { content_available: true } : { message: message.message ?? "" }),
          expiration: apnsExpiration(nowMs),
          ...(collapseId ? { collapse_id: collapseId } : {}),
        },
      ],
    };
  }
  const clickAction = !task && opts.androidClickAction ? { notification: { click_action: opts.androidClickAction } } : {};
  return {
    notifications: [
      {
        ...common,
        priority: task ? "high" : "normal",
        ...(task ? {} : { message: message.message ?? "" }),
        android: { ttl: `${PUSH_TTL_S}s`, ...clickAction },
      },
    ],
  };
}

type GorushLog = { notif_id?: string; type?: string; platform?: string; token?: string; message?: string; error?: string };
type GorushAnswer = { success?: string; counts?: number; logs?: GorushLog[] | null };

/**
 * gorush's 200 answer onto a PushResult, for a request of one notification with one token. gorush hides tokens in its
 * logs by default (log.hide_token), so a failed-push entry is matched by our notif_id, or is ours because it is the only
 * notification; `counts` 0 means gorush dropped it (its platform is not enabled there).
 */
export function mapGorushAnswer(body: GorushAnswer, notifId: string, sync: boolean, platform: string): PushResult {
  const status = 200;
  const failure = (body.logs ?? []).find((l) => l.type === "failed-push" && (l.notif_id === undefined || l.notif_id === notifId));
  if (failure) {
    const error = failure.error || "failed-push";
    if (isDeadTokenError(error)) return { outcome: "token-expired", provider: "gorush", status, error };
    if (TRANSIENT_ERRORS.test(error)) return { outcome: "retry", provider: "gorush", status, error };
    return { outcome: "rejected", provider: "gorush", status, error };
  }
  if (body.success !== "ok" || typeof body.counts !== "number") {
    return { outcome: "retry", provider: "gorush", status, error: `unexpected gateway answer: ${JSON.stringify(body).slice(0, 200)}` };
  }
  if (body.counts === 0) {
    return { outcome: "rejected", provider: "gorush", status, error: `gorush took nothing (counts 0): is ${platform} enabled in the gateway?` };
  }
  if (!sync) return { outcome: "accepted", provider: "gorush", status, error: "queued by gorush; without core.sync it does not report delivery" };
  return { outcome: "sent", provider: "gorush", status };
}

/**
 * gorush's 200 answer for a request of several notifications (one token each, one platform), onto one PushResult per
 * notification, in order. A failed-push entry belongs to the notification whose notif_id it carries (gorush's logPush
 * copies the request's notif_id into every entry, logx.LogPushEntry `notif_id`; tokens are starred, so they are never
 * matched). An entry without a notif_id cannot be attributed in a batch: every notification of that request is retried
 * (at least once, never lost). `counts` 0 means gorush dropped the request's platform.
 */
export function mapGorushBatch(body: GorushAnswer, notifIds: string[], sync: boolean, platform: string): PushResult[] {
  if (notifIds.length === 1) return [mapGorushAnswer(body, notifIds[0], sync, platform)];
  const failures = (body.logs ?? []).filter((l) => l.type === "failed-push");
  if (failures.some((l) => !l.notif_id)) {
    const error = `the gateway reported a failed push without notif_id in a request of ${notifIds.length}; set GORUSH_BATCH=1 for this gateway`;
    return notifIds.map(() => ({ outcome: "retry", provider: "gorush", status: 200, error }));
  }
  return notifIds.map((id) => mapGorushAnswer({ ...body, logs: failures.filter((l) => l.notif_id === id) }, id, sync, platform));
}

export class GorushProvider implements PushProvider {
  readonly name = "gorush" as const;
  constructor(private readonly opts: GorushOptions) {}

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    return (await this.sendMany([{ target, message }], { connections: 1 }))[0] ?? { outcome: "retry", provider: this.name, status: 0, error: "not sent" };
  }

  /**
   * Many pushes, up to `batch` notifications per gateway request (one token and its own notif_id each, so a failure
   * stays attributable), requests grouped by platform and sent `connections` at a time. A request `beforeRequest`
   * refuses is not made: its pushes come back null (not attempted).
   */
  async sendMany(items: { target: PushTarget; message: PushMessage }[], o: SendManyOptions): Promise<(PushResult | null)[]> {
    const results: (PushResult | null)[] = items.map(() => null);
    const byPlatform = new Map<string, number[]>();
    for (const [i, x] of items.entries()) {
      const list = byPlatform.get(x.target.platform);
      if (list) list.push(i);
      else byPlatform.set(x.target.platform, [i]);
    }
    const size = Math.max(1, this.opts.batch ?? 100);
    const requests: number[][] = [];
    for (const idx of byPlatform.values()) for (let k = 0; k < idx.length; k += size) requests.push(idx.slice(k, k + size));
    await pool(requests, o.connections, async (idx) => {
      if (o.beforeRequest && !o.beforeRequest()) return;
      const rs = await this.request(idx.map((i) => items[i]));
      for (const [k, i] of idx.entries()) results[i] = rs[k];
    });
    return results;
  }

  private async request(items: { target: PushTarget; message: PushMessage }[]): Promise<PushResult[]> {
    const clock = this.opts.clock ?? systemClock;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.opts.authorization) headers.authorization = this.opts.authorization;
    const now = clock.now().getTime();
    const notifIds = items.map((x) => x.message.taskId ?? crypto.randomUUID());
    const notifications: unknown[] = items.flatMap((x, i): unknown[] => gorushBody(x.target, x.message, this.opts, now, notifIds[i]).notifications);
    const all = (r: PushResult) => items.map(() => r);
    let res: Response;
    try {
      res = await (this.opts.fetcher ?? fetch)(`${this.opts.url}/api/push`, {
        method: "POST",
        headers,
        body: JSON.stringify({ notifications }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      return all({ outcome: "retry", provider: this.name, status: 0, error: `gateway unreachable: ${String((e as Error)?.message ?? e)}`.slice(0, 300) });
    }
    const text = await res.text().catch(() => "");
    if (res.status === 429 || res.status >= 500) {
      return all({
        outcome: "retry",
        provider: this.name,
        status: res.status,
        error: text.slice(0, 300) || `HTTP ${res.status}`,
        retryAfterMs: retryAfterMs(res.headers.get("retry-after"), clock.now().getTime()),
      });
    }
    if (res.status !== 200) return all({ outcome: "rejected", provider: this.name, status: res.status, error: text.slice(0, 300) || `HTTP ${res.status}` });
    let body: GorushAnswer;
    try {
      body = JSON.parse(text);
    } catch {
      return all({ outcome: "retry", provider: this.name, status: res.status, error: "gateway answered 200 with a body that is not JSON" });
    }
    return mapGorushBatch(body ?? {}, notifIds, this.opts.sync ?? false, items[0].target.platform);
  }
}
