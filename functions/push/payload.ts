import type { ProviderName, PushMessage, PushResult } from "./types";

/** FCM and APNs both refuse payloads over 4 KB; checked before sending so a bad campaign fails fast and visibly. */
export const MAX_PUSH_PAYLOAD_BYTES = 4096;

export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/**
 * The one payload an app receives, whichever provider carried it (docs/push.md "Payload"): flat string key/values,
 * delivered as FCM `data` on Android and as top-level keys beside `aps` on iOS (direct FCM, FCM's apns block and
 * gorush alike). `type` is "run_task" (with `task_id`) or "alert"; `pingback_url` is where to fetch the task or alert.
 */
export function pushData(m: PushMessage): Record<string, string> {
  return {
    ...(m.data ?? {}),
    type: m.kind === "task" ? "run_task" : "alert",
    ...(m.taskId ? { task_id: m.taskId } : {}),
    pingback_url: m.pingbackUrl,
  };
}

/** How long a provider keeps trying to deliver a push (FCM android.ttl, APNs apns-expiration): an hour, for every path. */
export const PUSH_TTL_S = 3600;

/** The APNs expiry of a push sent now: an absolute UNIX time in seconds, as apns-expiration and gorush's `expiration` want. */
export function apnsExpiration(nowMs: number): number {
  return Math.floor(nowMs / 1000) + PUSH_TTL_S;
}

/** APNs refuses an apns-collapse-id over 64 bytes. */
export const MAX_APNS_COLLAPSE_ID_BYTES = 64;

/**
 * The collapse id to send to APNs (and to gorush for iOS), or none when it would not fit. FCM gets none: a device
 * keeps at most four collapse keys and collapsible messages are throttled harder (a burst of 20, then one every
 * 3 minutes), so one key per task would lose pushes rather than merge repeats.
 */
export function apnsCollapseId(m: PushMessage): string | undefined {
  return m.collapseId && byteLength(m.collapseId) <= MAX_APNS_COLLAPSE_ID_BYTES ? m.collapseId : undefined;
}

export function oversize(provider: ProviderName, body: string): PushResult | null {
  const n = byteLength(body);
  return n > MAX_PUSH_PAYLOAD_BYTES
    ? { outcome: "rejected", provider, status: 0, error: `payload is ${n} bytes; ${provider} accepts at most ${MAX_PUSH_PAYLOAD_BYTES}` }
    : null;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unparseable. */
export function retryAfterMs(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

/** Network failures and timeouts are temporary: the same push may go through later. */
export function networkFailure(provider: ProviderName, e: unknown): PushResult {
  const name = (e as Error)?.name;
  const error = name === "TimeoutError" || name === "AbortError" ? "timed out" : `network error: ${String((e as Error)?.message ?? e)}`;
  return { outcome: "retry", provider, status: 0, error };
}
