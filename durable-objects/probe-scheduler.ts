import { DurableObject } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { tasks } from "../schema/campaigns";
import { probes } from "../schema/probes";
import { dbFrom } from "../functions/lib/db";
import { decide, type Decision } from "../functions/campaigns/dispatch";
import { taskIdFor } from "../functions/campaigns/ids";
import { pingbackUrl, signPingback } from "../functions/campaigns/pingback";
import { campaignSettings } from "../functions/campaigns/settings";
import { eventIfChanged, taskTransition } from "../functions/campaigns/task-store";
import { eventInsert } from "../functions/events/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import { settingsFrom } from "../functions/lib/settings";
import { selectProvider } from "../functions/push";
import { budgetAllows, budgetFor } from "../functions/push/budget";
import { pushConfigFrom } from "../functions/push/config";
import type { PushMessage, PushResult } from "../functions/push/types";
import { log } from "../functions/lib/log";

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
 * Local rows. States: pending (push due at next_at) → sending (push in flight) → recorded (provider answered;
 * D1 not yet updated) → awaiting (pushed; next_at = task timeout) → closed. Closed rows are kept a while so a
 * late duplicate hand-off still finds them.
 */
type OccRow = {
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

const RETAIN_CLOSED_MS = 30 * 86_400_000;
const ROWS_PER_ALARM = 50;
const ERROR_BACKOFF_MS = 30_000;
/** Longer than a push (PUSH_TIMEOUT_MS ≤ 60 s) plus its bookkeeping. */
const LEASE_MS = 90_000;

/**
 * One per probe (named by client_id). Holds that probe's pending occurrences and multiplexes all its deadlines
 * (first send, retries, task timeout) on its one alarm: the alarm is always set to the earliest next_at.
 */
export class ProbeScheduler extends DurableObject<Env> {
  private clock: Clock = systemClock;
  private sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS occurrences (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_id TEXT NOT NULL, probe_id TEXT NOT NULL, kind TEXT NOT NULL,
      task_id TEXT, payload TEXT NOT NULL, send_at INTEGER NOT NULL, expire_at INTEGER NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER, outcome TEXT, created_at INTEGER NOT NULL)`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS occurrences_next ON occurrences(next_at)");
    // When this device was last pushed: its push budget (functions/push/budget.ts) looks back one hour.
    this.sql.exec("CREATE TABLE IF NOT EXISTS push_log (at INTEGER NOT NULL)");
  }

  private get db() {
    return dbFrom(this.env.DB);
  }

  /** Idempotent: the same occurrence twice creates one task and one push. */
  async enqueue(o: Occurrence): Promise<{ created: boolean; taskId: string | null }> {
    const existing = this.sql.exec<{ task_id: string | null }>("SELECT task_id FROM occurrences WHERE id = ?", o.id).toArray()[0];
    if (existing) return { created: false, taskId: existing.task_id };
    const now = this.clock.now();
    let taskId: string | null = null;
    if (o.kind === "task") {
      const settings = settingsFrom(this.env);
      taskId = await taskIdFor(settings.jwtSecret, o.id);
      const at = now.toISOString();
      const db = this.db;
      // The task row is keyed by the derived id and unique per occurrence: a repeat after a lost reply is a no-op.
      await db.batch([
        db
          .insert(tasks)
          .values({
            id: taskId,
            jobId: o.jobId,
            runId: o.runId,
            probeId: o.probeId,
            testName: o.testName ?? "",
            state: "ready",
            createdAt: at,
            updatedAt: at,
            expiresAt: new Date(o.expireAtMs).toISOString(),
          })
          .onConflictDoNothing(),
        eventIfChanged(db, {
          at,
          type: "task.created",
          actor: "system",
          jobId: o.jobId,
          probeId: o.probeId,
          taskId,
          data: { run_id: o.runId, test_name: o.testName, send_at: new Date(o.sendAtMs).toISOString() },
        }),
      ]);
    }
    const payload = JSON.stringify({ alertMessage: o.alertMessage, alertExtra: o.alertExtra, testName: o.testName });
    this.sql.exec(
      `INSERT OR IGNORE INTO occurrences (id, job_id, run_id, probe_id, kind, task_id, payload, send_at, expire_at, state, attempts, next_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      o.id,
      o.jobId,
      o.runId,
      o.probeId,
      o.kind,
      taskId,
      payload,
      o.sendAtMs,
      o.expireAtMs,
      o.sendAtMs,
      now.getTime(),
    );
    await this.arm();
    return { created: true, taskId };
  }

  /** For tests and operators: this probe's occurrences. */
  async list(): Promise<OccRow[]> {
    return this.sql.exec<OccRow>("SELECT * FROM occurrences ORDER BY created_at, id").toArray();
  }

  async alarm(): Promise<void> {
    const now = this.clock.now().getTime();
    const due = this.sql
      .exec<OccRow>("SELECT * FROM occurrences WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?", now, ROWS_PER_ALARM)
      .toArray();
    for (const row of due) {
      // Claim the row with a lease before any await: another alarm run (a platform retry, or one set by an
      // enqueue while this one is in flight) then skips it instead of pushing it twice. Every path below moves
      // next_at on; if this run dies mid-push, the row comes back when the lease ends (at-least-once only then).
      const claimed = this.sql.exec("UPDATE occurrences SET next_at = ? WHERE id = ? AND next_at = ?", now + LEASE_MS, row.id, row.next_at).rowsWritten;
      if (claimed === 0) continue; // rowsWritten also counts index entries: any write means we hold it
      try {
        await this.process(row, now);
      } catch (e) {
        // Never let one row's failure (D1 hiccup) make the platform retry the whole alarm in a loop: back off this row.
        log.error("ProbeScheduler.alarm", String(e), { occurrence: row.id });
        this.sql.exec("UPDATE occurrences SET next_at = ? WHERE id = ?", now + ERROR_BACKOFF_MS, row.id);
      }
    }
    this.sql.exec("DELETE FROM occurrences WHERE state = 'closed' AND created_at < ?", now - RETAIN_CLOSED_MS);
    await this.arm();
  }

  private async arm(): Promise<void> {
    const next = this.sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM occurrences WHERE next_at IS NOT NULL").one().t;
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    const at = Math.max(next, this.clock.now().getTime() + 1);
    if (current === null || current !== at) await this.ctx.storage.setAlarm(at);
  }

  private close(id: string, outcome?: string) {
    this.sql.exec("UPDATE occurrences SET state = 'closed', next_at = NULL, outcome = COALESCE(?, outcome) WHERE id = ?", outcome ?? null, id);
  }

  private async process(row: OccRow, now: number): Promise<void> {
    if (row.state === "awaiting") return this.expire(row);
    if (row.state === "recorded") return this.record(row, JSON.parse(row.outcome!) as Recorded);
    // pending, or sending (a crash between the push and recording it: at-least-once in that narrow window)
    return this.send(row, now);
  }

  /** Task timeout: an unanswered task expires. A task already answered is left alone (the guard finds no row). */
  private async expire(row: OccRow): Promise<void> {
    if (row.task_id) {
      const db = this.db;
      await db.batch(taskTransition(db, row.task_id, "expire", this.clock.now().toISOString(), "system", {}, { reason: "no answer within the task timeout" }));
    }
    this.close(row.id);
  }

  private async send(row: OccRow, now: number): Promise<void> {
    const db = this.db;
    const info = await db
      .select({
        token: probes.pushToken,
        tokenState: probes.pushTokenState,
        platform: probes.platform,
        jobState: sql<string | null>`(SELECT state FROM jobs WHERE id = ${row.job_id})`,
        taskState: sql<string | null>`(SELECT state FROM tasks WHERE id = ${row.task_id})`,
      })
      .from(probes)
      .where(eq(probes.id, row.probe_id))
      .get();
    if (!info || info.jobState === "deleted") return this.close(row.id, JSON.stringify({ skipped: info ? "job deleted" : "probe gone" }));
    if (row.kind === "task" && info.taskState !== "ready") {
      // Answered already (the probe pulled it) or expired: no push needed; keep the timeout if it is still open.
      this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ? WHERE id = ?", row.expire_at, row.id);
      return;
    }
    const target = { probeId: row.probe_id, platform: info.platform, token: info.token ?? "" };
    const provider = info.tokenState === "valid" ? selectProvider(this.env, target) : null;
    if (!provider) {
      const reason = info.tokenState !== "valid" ? `push token ${info.tokenState}` : "no push provider for this probe";
      await db.batch([
        eventInsert(db, {
          at: new Date(now).toISOString(),
          type: "push.skipped",
          actor: "system",
          jobId: row.job_id,
          probeId: row.probe_id,
          taskId: row.task_id,
          data: { reason },
        }),
      ]);
      // The task stays ready for the probe to pull until it times out; an alert without push has nowhere to go.
      if (row.kind === "task") this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ?, outcome = ? WHERE id = ?", row.expire_at, reason, row.id);
      else this.close(row.id, reason);
      return;
    }
    const budget = budgetFor(info.platform, pushConfigFrom(this.env).budgets);
    if (budget) {
      const sent = this.sql
        .exec<{ at: number }>("SELECT at FROM push_log WHERE at > ?", now - 3_600_000)
        .toArray()
        .map((r) => r.at);
      const verdict = budgetAllows(sent, now, budget);
      if (!verdict.ok) {
        // Over the device's push budget: not pushed, left for the probe to pull, and recorded as such.
        await db.batch([
          eventInsert(db, {
            at: new Date(now).toISOString(),
            type: "push.deferred",
            actor: "system",
            jobId: row.job_id,
            probeId: row.probe_id,
            taskId: row.task_id,
            data: { reason: "push budget", provider: provider.name, window: verdict.window, sent: verdict.sent, limit: verdict.limit },
          }),
        ]);
        if (row.kind === "task")
          this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ?, outcome = 'deferred: push budget' WHERE id = ?", row.expire_at, row.id);
        else this.close(row.id, "deferred: push budget");
        return;
      }
    }
    const cs = campaignSettings(this.env);
    const settings = settingsFrom(this.env);
    const claims =
      row.kind === "task"
        ? { kind: "task" as const, taskId: row.task_id!, probeId: row.probe_id }
        : { kind: "alert" as const, jobId: row.job_id, probeId: row.probe_id };
    const link = pingbackUrl(settings.publicBaseUrl, await signPingback(claims, settings.jwtSecret, this.clock, cs.pingbackTtlS));
    const payload = JSON.parse(row.payload) as { alertMessage: string | null; alertExtra: string | null };
    const message: PushMessage =
      row.kind === "task"
        ? { kind: "task", taskId: row.task_id!, pingbackUrl: link, collapseId: row.task_id! }
        : // One alert run is one notification on a device, however many times it had to be sent.
          { kind: "alert", pingbackUrl: link, message: payload.alertMessage ?? "", data: stringValues(payload.alertExtra), collapseId: row.run_id };
    const attempt = row.attempts + 1;
    this.sql.exec("UPDATE occurrences SET state = 'sending', attempts = ? WHERE id = ?", attempt, row.id);
    const result = await provider.send(target, message);
    const decision = decide(result, attempt, pushConfigFrom(this.env).maxAttempts, this.clock.now().getTime(), Math.random());
    const recorded: Recorded = { result, decision, attempt, token: target.token };
    // The push happened: write that down twice, locally (a retried alarm then only finishes the bookkeeping) and in
    // D1 (the task leaves 'ready', which send() checks before any push). Either one alone prevents a second push,
    // so a failing local write (a storage error) must not stop the D1 one.
    try {
      this.sql.exec("UPDATE occurrences SET state = 'recorded', outcome = ? WHERE id = ?", JSON.stringify(recorded), row.id);
    } catch (e) {
      log.error("ProbeScheduler.send", `local record failed: ${String(e)}`, { occurrence: row.id });
    }
    await this.record({ ...row, state: "recorded", attempts: attempt }, recorded);
  }

  /** Apply a provider answer to D1 (task state, token state, delivery events) and to the local row. */
  private async record(row: OccRow, r: Recorded): Promise<void> {
    const db = this.db;
    const at = this.clock.now().toISOString();
    const base = { actor: "system", jobId: row.job_id, probeId: row.probe_id, taskId: row.task_id };
    const answer = { provider: r.result.provider, status: r.result.status, attempt: r.attempt, ...("error" in r.result ? { error: r.result.error } : {}) };
    const d = r.decision;
    const stmts: any[] = [];
    if (d.action === "sent") {
      const messageId = r.result.outcome === "sent" ? r.result.providerMessageId : undefined;
      stmts.push(
        eventInsert(db, { ...base, at, type: "push.sent", data: { ...answer, kind: row.kind, ...(messageId ? { provider_message_id: messageId } : {}) } }),
      );
      if (row.task_id) stmts.push(...taskTransition(db, row.task_id, "notify", at, "system", { notifiedAt: at }, { provider: r.result.provider }));
    } else if (d.action === "retry") {
      stmts.push(eventInsert(db, { ...base, at, type: "push.retry", data: { ...answer, retry_at: new Date(d.atMs).toISOString() } }));
    } else {
      const error = d.action === "failed" ? d.reason : (r.result as { error: string }).error;
      stmts.push(eventInsert(db, { ...base, at, type: "push.failed", data: { ...answer, token_expired: d.action === "token-expired" } }));
      if (d.action === "token-expired") {
        // Only the token the provider judged: a probe that has since sent a new token keeps it.
        stmts.push(
          db
            .update(probes)
            .set({ pushTokenState: "expired", pushTokenUpdatedAt: at })
            .where(and(eq(probes.id, row.probe_id), eq(probes.pushToken, r.token), eq(probes.pushTokenState, "valid"))),
          eventIfChanged(db, { at, type: "probe.token_expired", actor: "system", probeId: row.probe_id, data: { provider: r.result.provider, error } }),
        );
      }
      if (row.task_id) stmts.push(...taskTransition(db, row.task_id, "fail", at, "system", { error: error.slice(0, 500) }, { error: error.slice(0, 500) }));
    }
    await db.batch(stmts as [any, ...any[]]);
    if (d.action === "sent") {
      this.sql.exec("INSERT INTO push_log (at) VALUES (?)", Date.parse(at));
      this.sql.exec("DELETE FROM push_log WHERE at < ?", Date.parse(at) - 3_600_000);
      if (row.kind === "task") this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ? WHERE id = ?", row.expire_at, row.id);
      else this.close(row.id);
    } else if (d.action === "retry") {
      let retryAt = d.atMs;
      if (isThrottle(r.result)) {
        // The provider is throttling: the campaign's rollout slows down, and this push waits for a slot at the new rate.
        try {
          const slot = await this.env.CAMPAIGN_RUNNER.getByName(row.job_id).throttled(
            row.run_id,
            r.result.outcome === "retry" ? r.result.retryAfterMs : undefined,
          );
          if (slot !== null) retryAt = Math.max(retryAt, slot);
        } catch (e) {
          log.error("ProbeScheduler.throttled", String(e), { occurrence: row.id });
        }
      }
      this.sql.exec("UPDATE occurrences SET state = 'pending', next_at = ? WHERE id = ?", retryAt, row.id);
    } else {
      this.close(row.id);
    }
  }
}

/** 429 and quota answers mean "slow down", as opposed to a 5xx or a timeout. */
function isThrottle(r: PushResult): boolean {
  return r.outcome === "retry" && (r.status === 429 || /QUOTA_EXCEEDED|RESOURCE_EXHAUSTED|TooManyRequests/i.test(r.error));
}

type Recorded = { result: PushResult; decision: Decision; attempt: number; token: string };

/** Alert extras as push data: strings as they are, anything else as JSON text (FCM data values are strings). */
function stringValues(json: string | null): Record<string, string> {
  if (!json) return {};
  const o = JSON.parse(json) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}
