import { describe, expect, it } from "vitest";
import { afterRecord, HOLD_RECHECK_MS, type OccurrenceRow, planSend, type ProbeInfo, pushMessage, throttleOf } from "../../functions/campaigns/delivery";

const NOW = Date.parse("2030-01-01T12:00:00Z");
const row = (over: Partial<OccurrenceRow> = {}): OccurrenceRow => ({
  id: "o1",
  job_id: "j1",
  run_id: "j1:1",
  probe_id: "p1",
  kind: "task",
  task_id: "t1",
  payload: JSON.stringify({ alertMessage: null, alertExtra: null, testName: "web_connectivity" }),
  send_at: NOW,
  expire_at: NOW + 86_400_000,
  state: "pending",
  attempts: 0,
  next_at: NOW,
  outcome: null,
  created_at: NOW,
  ...over,
});
const info = (over: Partial<ProbeInfo> = {}): ProbeInfo => ({
  token: "tok",
  tokenState: "valid",
  platform: "ios",
  jobState: "active",
  taskState: "ready",
  ...over,
});
const plan = (p: Partial<Parameters<typeof planSend>[0]> = {}) =>
  planSend({ row: row(), info: info(), provider: "gorush", budget: null, sentAtMs: [], nowMs: NOW, ...p });

describe("planSend: what a due occurrence needs", () => {
  it("a probe that is gone, or a deleted campaign, closes the occurrence without a push or an event", () => {
    expect(plan({ info: null })).toEqual({ push: false, event: null, local: { state: "closed", outcome: '{"skipped":"probe gone"}' } });
    expect(plan({ info: info({ jobState: "deleted" }) })).toEqual({
      push: false,
      event: null,
      local: { state: "closed", outcome: '{"skipped":"job deleted"}' },
    });
  });

  it("a paused campaign's due push is held (looked at again later), not sent and not dropped", () => {
    expect(plan({ info: info({ jobState: "paused" }) })).toEqual({ push: false, event: null, local: { state: "pending", nextAt: NOW + HOLD_RECHECK_MS } });
    // A retry is held the same way; the hold never outlasts the task's timeout.
    expect(plan({ row: row({ attempts: 2, expire_at: NOW + 1000 }), info: info({ jobState: "paused" }) })).toMatchObject({
      push: false,
      local: { state: "pending", nextAt: NOW + 1000 },
    });
  });

  it("a push held past its task timeout is not sent: a task goes to its timeout, an alert closes", () => {
    const late = row({ expire_at: NOW - 1 });
    expect(plan({ row: late, info: info({ jobState: "paused" }) })).toEqual({ push: false, event: null, local: { state: "awaiting", nextAt: NOW - 1 } });
    expect(plan({ row: { ...late, kind: "alert", task_id: null }, info: info({ jobState: "paused", taskState: null }) })).toMatchObject({
      local: { state: "closed" },
    });
  });

  it("a done campaign's pushes still go out (a one-run campaign is done at its fire)", () => {
    expect(plan({ info: info({ jobState: "done" }) })).toMatchObject({ push: true, attempt: 1 });
  });

  it("a task the probe already pulled is not pushed; its timeout stays", () => {
    expect(plan({ info: info({ taskState: "accepted" }) })).toEqual({ push: false, event: null, local: { state: "awaiting", nextAt: NOW + 86_400_000 } });
  });

  it("without a provider the push is skipped and recorded; a task waits to be pulled, an alert closes", () => {
    const t = plan({ provider: null, info: info({ tokenState: "expired" }) });
    expect(t).toMatchObject({ push: false, event: { type: "push.skipped", data: { reason: "push token expired" } }, local: { state: "awaiting" } });
    const a = plan({ provider: null, row: row({ kind: "alert", task_id: null }) });
    expect(a).toMatchObject({ push: false, event: { type: "push.skipped", data: { reason: "no push provider for this probe" } }, local: { state: "closed" } });
  });

  it("over the device's budget the push is deferred and recorded with the window and counts", () => {
    const p = plan({ budget: { perHour: 3, perMinute: 10 }, sentAtMs: [NOW - 3000, NOW - 2000, NOW - 1000] });
    expect(p).toMatchObject({
      push: false,
      event: { type: "push.deferred", data: { reason: "push budget", provider: "gorush", sent: 3, limit: 3 } },
      local: { state: "awaiting", outcome: "deferred: push budget" },
    });
  });

  it("otherwise it is a push to the probe's token with a task pingback, as the next attempt", () => {
    expect(plan({ row: row({ attempts: 2 }) })).toEqual({
      push: true,
      target: { probeId: "p1", platform: "ios", token: "tok" },
      claims: { kind: "task", taskId: "t1", probeId: "p1" },
      attempt: 3,
    });
  });
});

describe("pushMessage and the provider's answer", () => {
  it("an alert carries its text, its extras as strings, and one collapse id per run", () => {
    const r = row({ kind: "alert", task_id: null, payload: JSON.stringify({ alertMessage: "hi", alertExtra: JSON.stringify({ n: 1, s: "x" }) }) });
    expect(pushMessage(r, "https://x/p")).toEqual({ kind: "alert", pingbackUrl: "https://x/p", message: "hi", data: { n: "1", s: "x" }, collapseId: "j1:1" });
  });

  it("a 429 or a quota answer is a throttle; a 503 is a plain retry", () => {
    expect(throttleOf({ outcome: "retry", provider: "fcm", status: 429, error: "slow", retryAfterMs: 1000 })).toEqual({ retryAfterMs: 1000 });
    expect(throttleOf({ outcome: "retry", provider: "fcm", status: 400, error: "QUOTA_EXCEEDED" })).toEqual({ retryAfterMs: undefined });
    expect(throttleOf({ outcome: "retry", provider: "fcm", status: 503, error: "down" })).toBeNull();
  });

  it("a sent task waits for its answer and counts against the budget; a sent alert closes; a failure closes", () => {
    const sent = { result: { outcome: "sent", provider: "gorush", status: 200 } as const, decision: { action: "sent" } as const, attempt: 1, token: "tok" };
    expect(afterRecord(row(), sent)).toEqual({ local: { state: "awaiting", nextAt: NOW + 86_400_000 }, logPush: true, throttle: null });
    expect(afterRecord(row({ kind: "alert" }), sent).local).toEqual({ state: "closed" });
    const failed = {
      ...sent,
      result: { outcome: "rejected", provider: "gorush", status: 400, error: "bad" } as const,
      decision: { action: "failed", reason: "bad" } as const,
    };
    expect(afterRecord(row(), failed)).toEqual({ local: { state: "closed" }, logPush: false, throttle: null });
  });
});
