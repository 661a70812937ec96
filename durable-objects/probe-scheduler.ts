import { DurableObject } from "cloudflare:workers";
import {
  afterRecord,
  budgetOf,
  deliveryOutcome,
  type LocalChange,
  type Occurrence,
  type OccurrenceRow,
  occurrenceTaskId,
  PUSH_LOG_WINDOW_MS,
  payloadOf,
  planSend,
  providerFor,
  pushMessage,
  type Recorded,
  signedPingbackUrl,
} from "../functions/campaigns/delivery";
import { deliveryEvent, deliveryRecorded, probeInfo, runBatch, taskCreated, taskTimedOut } from "../functions/campaigns/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import { dbFrom } from "../functions/lib/db";
import { migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { log } from "../functions/lib/log";

const RETAIN_CLOSED_MS = 30 * 86_400_000;
const ROWS_PER_ALARM = 50;
const ERROR_BACKOFF_MS = 30_000;
/** Longer than a push (PUSH_TIMEOUT_MS ≤ 60 s) plus its bookkeeping. */
const LEASE_MS = 90_000;

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: occurrences (states in functions/campaigns/delivery.ts) and when this device was last pushed (its push budget looks back one hour).
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS occurrences (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_id TEXT NOT NULL, probe_id TEXT NOT NULL, kind TEXT NOT NULL,
      task_id TEXT, payload TEXT NOT NULL, send_at INTEGER NOT NULL, expire_at INTEGER NOT NULL, state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER, outcome TEXT, created_at INTEGER NOT NULL)`);
    sql.exec("CREATE INDEX IF NOT EXISTS occurrences_next ON occurrences(next_at)");
    sql.exec("CREATE TABLE IF NOT EXISTS push_log (at INTEGER NOT NULL)");
  },
];

/**
 * One per probe (named by client_id). Holds that probe's pending occurrences and multiplexes all its deadlines
 * (first send, retries, task timeout) on its one alarm: the alarm is always set to the earliest next_at. Closed
 * rows are kept a while so a late duplicate hand-off still finds them. What to send, when and what to record is
 * decided by functions/campaigns/delivery.ts; this object loads rows, calls it and stores the result.
 */
export class ProbeScheduler extends DurableObject<Env> {
  private clock: Clock = systemClock;
  private sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(this.sql, SCHEMA);
    });
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
      taskId = await occurrenceTaskId(this.env, o);
      await runBatch(this.db, taskCreated(this.db, o, taskId, now.toISOString()));
    }
    this.sql.exec(
      `INSERT OR IGNORE INTO occurrences (id, job_id, run_id, probe_id, kind, task_id, payload, send_at, expire_at, state, attempts, next_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      o.id,
      o.jobId,
      o.runId,
      o.probeId,
      o.kind,
      taskId,
      payloadOf(o),
      o.sendAtMs,
      o.expireAtMs,
      o.sendAtMs,
      now.getTime(),
    );
    await this.arm();
    return { created: true, taskId };
  }

  /** For tests and operators: this probe's occurrences. */
  async list(): Promise<OccurrenceRow[]> {
    return this.sql.exec<OccurrenceRow>("SELECT * FROM occurrences ORDER BY created_at, id").toArray();
  }

  async alarm(): Promise<void> {
    const now = this.clock.now().getTime();
    const due = this.sql
      .exec<OccurrenceRow>("SELECT * FROM occurrences WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?", now, ROWS_PER_ALARM)
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

  /** Apply a local change the delivery plan decided. */
  private apply(id: string, c: LocalChange): void {
    if (c.state === "closed")
      this.sql.exec("UPDATE occurrences SET state = 'closed', next_at = NULL, outcome = COALESCE(?, outcome) WHERE id = ?", c.outcome ?? null, id);
    else if (c.state === "awaiting")
      this.sql.exec("UPDATE occurrences SET state = 'awaiting', next_at = ?, outcome = COALESCE(?, outcome) WHERE id = ?", c.nextAt, c.outcome ?? null, id);
    else this.sql.exec("UPDATE occurrences SET state = 'pending', next_at = ? WHERE id = ?", c.nextAt, id);
  }

  private async process(row: OccurrenceRow, now: number): Promise<void> {
    if (row.state === "awaiting") return this.expire(row);
    if (row.state === "recorded") return this.record(row, JSON.parse(row.outcome ?? "null") as Recorded);
    // pending, or sending (a crash between the push and recording it: at-least-once in that narrow window)
    return this.send(row, now);
  }

  private async expire(row: OccurrenceRow): Promise<void> {
    if (row.task_id) await runBatch(this.db, taskTimedOut(this.db, row.task_id, this.clock.now().toISOString()));
    this.apply(row.id, { state: "closed" });
  }

  private sentWithinWindow(now: number): number[] {
    return this.sql
      .exec<{ at: number }>("SELECT at FROM push_log WHERE at > ?", now - PUSH_LOG_WINDOW_MS)
      .toArray()
      .map((r) => r.at);
  }

  private async send(row: OccurrenceRow, now: number): Promise<void> {
    const db = this.db;
    const info = (await probeInfo(db, row)) ?? null;
    const provider = info ? providerFor(this.env, row, info) : null;
    const plan = planSend({
      row,
      info,
      provider: provider?.name ?? null,
      budget: info ? budgetOf(this.env, info.platform) : null,
      sentAtMs: this.sentWithinWindow(now),
      nowMs: now,
    });
    if (!plan.push) {
      if (plan.event) await runBatch(db, deliveryEvent(db, plan.event));
      return this.apply(row.id, plan.local);
    }
    if (!provider) throw new Error("a push plan without a provider");
    const message = pushMessage(row, await signedPingbackUrl(this.env, this.clock, plan.claims));
    this.sql.exec("UPDATE occurrences SET state = 'sending', attempts = ? WHERE id = ?", plan.attempt, row.id);
    const result = await provider.send(plan.target, message);
    const recorded = deliveryOutcome(this.env, result, plan.attempt, plan.target.token, this.clock.now().getTime(), Math.random());
    // The push happened: write that down twice, locally (a retried alarm then only finishes the bookkeeping) and in
    // D1 (the task leaves 'ready', which send() checks before any push). Either one alone prevents a second push,
    // so a failing local write (a storage error) must not stop the D1 one.
    try {
      this.sql.exec("UPDATE occurrences SET state = 'recorded', outcome = ? WHERE id = ?", JSON.stringify(recorded), row.id);
    } catch (e) {
      log.error("ProbeScheduler.send", `local record failed: ${String(e)}`, { occurrence: row.id });
    }
    await this.record({ ...row, state: "recorded", attempts: plan.attempt }, recorded);
  }

  /** Apply a provider answer to D1 (task state, token state, delivery events) and to the local row. */
  private async record(row: OccurrenceRow, r: Recorded): Promise<void> {
    const at = this.clock.now().toISOString();
    await runBatch(this.db, deliveryRecorded(this.db, row, r, at));
    const next = afterRecord(row, r);
    if (next.logPush) {
      this.sql.exec("INSERT INTO push_log (at) VALUES (?)", Date.parse(at));
      this.sql.exec("DELETE FROM push_log WHERE at < ?", Date.parse(at) - PUSH_LOG_WINDOW_MS);
    }
    let local = next.local;
    if (next.throttle && local.state === "pending") {
      // The provider is throttling: the campaign's rollout slows down, and this push waits for a slot at the new rate.
      try {
        const slot = await this.env.CAMPAIGN_RUNNER.getByName(row.job_id).throttled(row.run_id, next.throttle.retryAfterMs);
        if (slot !== null) local = { state: "pending", nextAt: Math.max(local.nextAt, slot) };
      } catch (e) {
        log.error("ProbeScheduler.throttled", String(e), { occurrence: row.id });
      }
    }
    this.apply(row.id, local);
  }
}
