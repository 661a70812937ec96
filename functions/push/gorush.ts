import { apnsCollapseId, retryAfterMs } from "./payload";
import type { PushMessage, PushProvider, PushResult, PushTarget } from "./types";

export { retryAfterMs };

/** gorush's per-token errors that mean the token is dead (APNs and FCM wording): mark it expired, never retry. */
export const DEAD_TOKEN_ERRORS = ["Unregistered", "BadDeviceToken", "NotRegistered", "InvalidRegistration"];
/** Per-token errors that are about the provider's state, not the message: try again later. */
const TRANSIENT_ERRORS = /TooManyRequests|ServiceUnavailable|InternalServerError|Unavailable|Internal|Shutdown|timeout|QuotaExceeded/i;

export type GorushOptions = {
  url: string;
  authorization?: string | null;
  iosTopic?: string;
  androidClickAction?: string;
  timeoutMs?: number;
  /** Defaults to the global fetch; tests pass their own so they never touch a global other tests share. */
  fetcher?: typeof fetch;
};

const PLATFORM: Record<string, number> = { ios: 1, android: 2, huawei: 3 };

export function gorushPlatform(platform: string): number | null {
  return PLATFORM[platform] ?? null;
}

/** The request body OONI Orchestra sent (reference/ooni.md §1.8), with the pingback URL in the data. */
export function gorushBody(target: PushTarget, message: PushMessage, opts: Pick<GorushOptions, "iosTopic" | "androidClickAction">) {
  const platform = gorushPlatform(target.platform);
  const ios = platform === 1;
  const collapseId = ios ? apnsCollapseId(message) : undefined;
  const data =
    message.kind === "task"
      ? { type: "run_task", payload: { task_id: message.taskId, pingback_url: message.pingbackUrl, ...(message.data ?? {}) } }
      : { type: message.data?.href ? "open_href" : "default", payload: { ...(message.data ?? {}), pingback_url: message.pingbackUrl } };
  return {
    notifications: [
      {
        tokens: [target.token],
        platform,
        message: message.kind === "alert" ? (message.message ?? "") : "",
        topic: ios ? (opts.iosTopic ?? "") : "",
        to: "",
        data,
        content_available: message.kind === "task",
        notification: platform === 2 && opts.androidClickAction ? { click_action: opts.androidClickAction } : {},
        // gorush's iOS field for apns-collapse-id (Android gets no collapse key: payload.ts apnsCollapseId).
        ...(collapseId ? { collapse_id: collapseId } : {}),
      },
    ],
  };
}

type GorushLog = { type?: string; platform?: string; token?: string; message?: string; error?: string };

export class GorushProvider implements PushProvider {
  readonly name = "gorush" as const;
  constructor(private readonly opts: GorushOptions) {}

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.opts.authorization) headers.authorization = this.opts.authorization;
    let res: Response;
    try {
      res = await (this.opts.fetcher ?? fetch)(`${this.opts.url}/api/push`, {
        method: "POST",
        headers,
        body: JSON.stringify(gorushBody(target, message, this.opts)),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      return { outcome: "retry", provider: this.name, status: 0, error: `gateway unreachable: ${String((e as Error)?.message ?? e)}`.slice(0, 300) };
    }
    const text = await res.text().catch(() => "");
    if (res.status === 429 || res.status >= 500) {
      return {
        outcome: "retry",
        provider: this.name,
        status: res.status,
        error: text.slice(0, 300) || `HTTP ${res.status}`,
        retryAfterMs: retryAfterMs(res.headers.get("retry-after")),
      };
    }
    if (res.status !== 200) return { outcome: "rejected", provider: this.name, status: res.status, error: text.slice(0, 300) || `HTTP ${res.status}` };
    let body: { success?: string; counts?: number; logs?: GorushLog[] } = {};
    try {
      body = JSON.parse(text);
    } catch {
      return { outcome: "retry", provider: this.name, status: res.status, error: "gateway answered 200 with a body that is not JSON" };
    }
    // Per-token failures show up in logs only when gorush runs with core.sync: true.
    const failure = (body.logs ?? []).find((l) => (l.token === undefined || l.token === target.token) && (l.error || l.type === "failed-push"));
    if (failure) {
      const err = failure.error || failure.message || "failed-push";
      if (DEAD_TOKEN_ERRORS.some((d) => err.includes(d))) return { outcome: "token-expired", provider: this.name, status: res.status, error: err };
      if (TRANSIENT_ERRORS.test(err)) return { outcome: "retry", provider: this.name, status: res.status, error: err };
      return { outcome: "rejected", provider: this.name, status: res.status, error: err };
    }
    if (body.success !== "ok") return { outcome: "retry", provider: this.name, status: res.status, error: `unexpected gateway answer: ${text.slice(0, 200)}` };
    return { outcome: "sent", provider: this.name, status: res.status };
  }
}
