import type { NewEvent } from "../events/store";
import type { Clock } from "../lib/clock";
import { settingsFrom } from "../lib/settings";
import { selectProvider } from "../push";
import { type Budget, budgetAllows, budgetFor } from "../push/budget";
import { pushConfigFrom } from "../push/config";
import type { PushMessage, PushProvider, PushResult, PushTarget } from "../push/types";
import { type Decision, decide } from "./dispatch";
import { taskIdFor } from "./ids";
import { type PingbackClaims, pingbackUrl, signPingback } from "./pingback";
import { canPush } from "./reach";
import { campaignSettings } from "./settings";

// Delivery of one occurrence to one probe, decided here and applied by its ProbeScheduler object
// (durable-objects/probe-scheduler.ts), which only loads rows, calls these functions and stores what they return.

/** What the campaign runner hands to a probe's scheduler: one (campaign, run, probe) occurrence. */
export type Occurrence = {
  id: string;
  jobId: string;
  runId: string;
  probeId: string;
  kind: "task" | "alert";
  testName: string | null;
  /** JSON object. */
  arguments: string | null;
  alertMessage: string | null;
  /** JSON object. */
  alertExtra: string | null;
  sendAtMs: number;
  expireAtMs: number;
};

/**
 * An occurrence as the scheduler keeps it. States: pending (push due at next_at) → sending (push in flight) →
 * recorded (provider answered; D1 not yet updated) → awaiting (pushed; next_at = task timeout) → closed.
 */
export type OccurrenceRow = {
  id: string;
  job_id: string;
  run_id: string;
  probe_id: string;
  kind: string;
  task_id: string | null;
  payload: string;
  send_at: number;
  expire_at: number;
  state: string;
  attempts: number;
  next_at: number | null;
  outcome: string | null;
  created_at: number;
};

/** What the scheduler reads from D1 before a push: the probe's token and platform, its job's and task's state. */
export type ProbeInfo = {
  token: string | null;
  tokenState: string;
  platform: string;
  jobState: string | null;
  taskState: string | null;
};

/** How the scheduler's local row changes. */
export type LocalChange =
  | { state: "closed"; outcome?: string }
  | { state: "awaiting"; nextAt: number; outcome?: string }
  | { state: "pending"; nextAt: number };

/** A provider's answer as the scheduler records it (locally first, then in D1). */
export type Recorded = { result: PushResult; decision: Decision; attempt: number; token: string };

/**
 * A paused campaign's due push is held, not dropped: it is looked at again this much later, and sent once the
 * campaign is resumed (the hold costs one D1 read per held probe per interval; see docs/campaigns.md "Pause").
 */
export const HOLD_RECHECK_MS = 60_000;

/** The push budget window: a device's pushes are counted over the last hour. */
export const PUSH_LOG_WINDOW_MS = 3_600_000;

/** What a due occurrence needs: nothing more (close it), a delivery event and a local change, or a push. */
export type SendPlan =
  | { push: false; event: NewEvent | null; local: LocalChange }
  | { push: true; target: PushTarget; claims: PingbackClaims; attempt: number };

/** The payload column: what the push says, kept from the hand-off. */
type Payload = { alertMessage: string | null; alertExtra: string | null; testName?: string | null };

export function payloadOf(o: Pick<Occurrence, "alertMessage" | "alertExtra" | "testName">): string {
  return JSON.stringify({ alertMessage: o.alertMessage, alertExtra: o.alertExtra, testName: o.testName });
}

/** The task id of a task occurrence: derived from the occurrence with the service's key, so a repeat maps to one task. */
export function occurrenceTaskId(env: Env, o: Pick<Occurrence, "id">): Promise<string> {
  return taskIdFor(settingsFrom(env).jwtSecret, o.id);
}

/** The push target of a probe. */
export function pushTarget(row: Pick<OccurrenceRow, "probe_id">, info: Pick<ProbeInfo, "platform" | "token">): PushTarget {
  return { probeId: row.probe_id, platform: info.platform, token: info.token ?? "" };
}

/** Which provider pushes to this probe: none unless its token can be pushed (the reach rule), else by platform. */
export function providerFor(env: Env, row: Pick<OccurrenceRow, "probe_id">, info: ProbeInfo): PushProvider | null {
  return canPush(info.tokenState) ? selectProvider(env, pushTarget(row, info)) : null;
}

/** The device's push budget, or null when its platform has none. */
export function budgetOf(env: Env, platform: string): Budget | null {
  return budgetFor(platform, pushConfigFrom(env).budgets);
}

/**
 * What to do with a due occurrence, pure. `info` null: the probe is gone. `provider` is the name of the provider
 * that would push it (null: none can). `sentAtMs` are this device's pushes within the budget window.
 */
export function planSend(p: {
  row: OccurrenceRow;
  info: ProbeInfo | null;
  provider: string | null;
  budget: Budget | null;
  sentAtMs: number[];
  nowMs: number;
}): SendPlan {
  const { row, info, nowMs } = p;
  if (!info || info.jobState === "deleted")
    return { push: false, event: null, local: { state: "closed", outcome: JSON.stringify({ skipped: info ? "job deleted" : "probe gone" }) } };
  // Answered already (the probe pulled it) or expired: no push needed; keep the timeout if it is still open.
  if (row.kind === "task" && info.taskState !== "ready") return { push: false, event: null, local: { state: "awaiting", nextAt: row.expire_at } };
  if (info.jobState === "paused") {
    // Held while the campaign is paused; past its task timeout it is no longer worth a push (a task then expires).
    if (nowMs >= row.expire_at)
      return {
        push: false,
        event: null,
        local: row.kind === "task" ? { state: "awaiting", nextAt: row.expire_at } : { state: "closed", outcome: "expired while paused" },
      };
    return { push: false, event: null, local: { state: "pending", nextAt: Math.min(nowMs + HOLD_RECHECK_MS, row.expire_at) } };
  }
  const base = { at: new Date(nowMs).toISOString(), actor: "system", jobId: row.job_id, probeId: row.probe_id, taskId: row.task_id };
  // The task stays ready for the probe to pull until it times out; an alert without push has nowhere to go.
  const leave = (outcome: string): LocalChange => (row.kind === "task" ? { state: "awaiting", nextAt: row.expire_at, outcome } : { state: "closed", outcome });
  if (!p.provider) {
    const reason = !canPush(info.tokenState) ? `push token ${info.tokenState}` : "no push provider for this probe";
    return { push: false, event: { ...base, type: "push.skipped", data: { reason } }, local: leave(reason) };
  }
  if (p.budget) {
    const verdict = budgetAllows(p.sentAtMs, nowMs, p.budget);
    if (!verdict.ok) {
      // Over the device's push budget: not pushed, left for the probe to pull, and recorded as such.
      return {
        push: false,
        event: {
          ...base,
          type: "push.deferred",
          data: { reason: "push budget", provider: p.provider, window: verdict.window, sent: verdict.sent, limit: verdict.limit },
        },
        local: leave("deferred: push budget"),
      };
    }
  }
  const claims: PingbackClaims =
    row.kind === "task" ? { kind: "task", taskId: row.task_id ?? "", probeId: row.probe_id } : { kind: "alert", jobId: row.job_id, probeId: row.probe_id };
  return { push: true, target: pushTarget(row, info), claims, attempt: row.attempts + 1 };
}

/** The signed pingback link a push carries (PUBLIC_BASE_URL + a short-lived token naming the task or alert). */
export async function signedPingbackUrl(env: Env, clock: Clock, claims: PingbackClaims): Promise<string> {
  const settings = settingsFrom(env);
  return pingbackUrl(settings.publicBaseUrl, await signPingback(claims, settings.jwtSecret, clock, campaignSettings(env).pingbackTtlS));
}

/** The push message of an occurrence, pure. */
export function pushMessage(row: Pick<OccurrenceRow, "kind" | "task_id" | "run_id" | "payload">, link: string): PushMessage {
  if (row.kind === "task") return { kind: "task", taskId: row.task_id ?? "", pingbackUrl: link, collapseId: row.task_id ?? "" };
  const payload = JSON.parse(row.payload) as Payload;
  // One alert run is one notification on a device, however many times it had to be sent.
  return { kind: "alert", pingbackUrl: link, message: payload.alertMessage ?? "", data: stringValues(payload.alertExtra), collapseId: row.run_id };
}

/**
 * The one place the scheduler interprets a provider's answer: what it decides (sent, retry when, token expired,
 * failed) and whether the provider is throttling (the campaign's rollout must slow down).
 */
export function deliveryOutcome(env: Env, result: PushResult, attempt: number, token: string, nowMs: number, rand: number): Recorded {
  return { result, decision: decide(result, attempt, pushConfigFrom(env).maxAttempts, nowMs, rand), attempt, token };
}

/** 429 and quota answers mean "slow down", as opposed to a 5xx or a timeout. */
export function throttleOf(r: PushResult): { retryAfterMs?: number } | null {
  if (r.outcome !== "retry" || !(r.status === 429 || /QUOTA_EXCEEDED|RESOURCE_EXHAUSTED|TooManyRequests/i.test(r.error))) return null;
  return { retryAfterMs: r.retryAfterMs };
}

/**
 * The local side of a recorded answer, pure: a sent push is logged against the device's budget and waits for the
 * task's answer (an alert is done); a retry is pending again at its time (no earlier than the campaign's next
 * slot when throttled, which the caller asks for); anything else is closed.
 */
export function afterRecord(
  row: Pick<OccurrenceRow, "kind" | "expire_at">,
  r: Recorded,
): { local: LocalChange; logPush: boolean; throttle: { retryAfterMs?: number } | null } {
  const d = r.decision;
  // "accepted" (a gateway that queues without telling) wakes the probe like "sent"; only the log tells them apart.
  if (d.action === "sent" || d.action === "accepted")
    return { local: row.kind === "task" ? { state: "awaiting", nextAt: row.expire_at } : { state: "closed" }, logPush: true, throttle: null };
  if (d.action === "retry") return { local: { state: "pending", nextAt: d.atMs }, logPush: false, throttle: throttleOf(r.result) };
  return { local: { state: "closed" }, logPush: false, throttle: null };
}

/** Alert extras as push data: strings as they are, anything else as JSON text (FCM data values are strings). */
function stringValues(json: string | null): Record<string, string> {
  if (!json) return {};
  const o = JSON.parse(json) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}
