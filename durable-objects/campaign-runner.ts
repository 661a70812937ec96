import { DurableObject } from "cloudflare:workers";
import { and, asc, eq, gt } from "drizzle-orm";
import { jobRuns, jobs, type JobRow } from "../schema/campaigns";
import { probes } from "../schema/probes";
import { dbFrom } from "../functions/lib/db";
import { newPace, onThrottle, type Pace, recover, schedule } from "../functions/push/pace";
import { occurrenceId, runId, unitHash } from "../functions/campaigns/ids";
import { planDue, storedSchedule } from "../functions/campaigns/schedule";
import { campaignSettings } from "../functions/campaigns/settings";
import { reachConditions } from "../functions/campaigns/reach";
import type { Target } from "../functions/campaigns/targeting";
import { eventInsert } from "../functions/events/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import type { Occurrence } from "./probe-scheduler";
import { log } from "../functions/lib/log";
import { pool } from "../functions/lib/pool";

type RunRow = { run_id: string; job_id: string; run_at: number; state: string; cursor: string; handed: number; pace: string | null };

const ERROR_BACKOFF_MS = 10_000;
/** With a rollout rate, the next page is handed out this long before its first push is due. */
const PAGE_LEAD_MS = 60_000;

/**
 * One per campaign (named by job id). It serialises everything about its campaign's runs: a re-fired or duplicated
 * cron meets the same object, which fires each run once. It walks a run's targets in bounded pages, one page per
 * alarm invocation, so a run over 1,000,000 probes costs the same per invocation as a run over 10
 * (docs/decisions/0003-fanout-limits.md).
 */
export class CampaignRunner extends DurableObject<Env> {
  private clock: Clock = systemClock;
  private sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS runs (
      run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_at INTEGER NOT NULL, state TEXT NOT NULL,
      cursor TEXT NOT NULL DEFAULT '', handed INTEGER NOT NULL DEFAULT 0)`);
    // The run's adaptive rollout state (functions/push/pace.ts), added after the first version of this table.
    try {
      this.sql.exec("ALTER TABLE runs ADD COLUMN pace TEXT");
    } catch (e) {
      if (!/duplicate column/i.test(String(e))) throw e;
    }
  }

  private get db() {
    return dbFrom(this.env.DB);
  }

  /** Called by the minute cron for a due campaign. Serialised, so concurrent or repeated calls fire a run once. */
  async fire(jobId: string, nowMs: number): Promise<{ fired: string | null; missed: number }> {
    return this.ctx.blockConcurrencyWhile(() => this.fireLocked(jobId, nowMs));
  }

  private async fireLocked(jobId: string, nowMs: number): Promise<{ fired: string | null; missed: number }> {
    const db = this.db;
    const job = await db.select().from(jobs).where(eq(jobs.id, jobId)).get();
    if (!job || job.state !== "active" || job.nextRunAt === null || Date.parse(job.nextRunAt) > nowMs) return { fired: null, missed: 0 };
    const schedule = storedSchedule(job.schedule, Date.parse(job.startAt));
    const plan = planDue(schedule, Date.parse(job.nextRunAt), nowMs, job.startingDeadlineS * 1000);
    const at = new Date(nowMs).toISOString();
    const iso = (ms: number) => new Date(ms).toISOString();
    const base = { at, actor: "system", jobId };
    const stmts: any[] = [
      db
        .update(jobs)
        .set({
          nextRunAt: plan.next ? iso(plan.next.at) : null,
          state: plan.next ? "active" : "done",
          timesRun: job.timesRun + (plan.fire ? 1 : 0),
          lastRunAt: plan.fire ? iso(plan.fire.at) : job.lastRunAt,
          updatedAt: at,
        })
        .where(and(eq(jobs.id, jobId), eq(jobs.nextRunAt, job.nextRunAt), eq(jobs.state, "active"))),
    ];
    if (plan.missed.count > 0) {
      const last = plan.missed.last!;
      stmts.push(
        db
          .insert(jobRuns)
          .values({ id: runId(jobId, last), jobId, runNo: null, scheduledAt: iso(last), state: "missed", missedCount: plan.missed.count, finishedAt: at })
          .onConflictDoNothing(),
        eventInsert(db, {
          ...base,
          type: "run.missed",
          data: {
            count: plan.missed.count,
            capped: plan.missed.capped,
            first: iso(plan.missed.first!),
            last: iso(last),
            starting_deadline_s: job.startingDeadlineS,
          },
        }),
      );
    }
    let fired: string | null = null;
    if (plan.fire) {
      fired = runId(jobId, plan.fire.at);
      stmts.push(
        db
          .insert(jobRuns)
          .values({ id: fired, jobId, runNo: job.timesRun + 1, scheduledAt: iso(plan.fire.at), firedAt: at, state: "dispatching" })
          .onConflictDoNothing(),
        eventInsert(db, { ...base, type: "run.started", data: { run_id: fired, run_no: job.timesRun + 1, scheduled_at: iso(plan.fire.at) } }),
      );
    }
    if (!plan.next) stmts.push(eventInsert(db, { ...base, type: "job.done", data: { times_run: job.timesRun + (plan.fire ? 1 : 0) } }));
    await db.batch(stmts as [any, ...any[]]);
    if (plan.fire && fired) {
      this.sql.exec("INSERT OR IGNORE INTO runs (run_id, job_id, run_at, state) VALUES (?, ?, ?, 'paging')", fired, jobId, plan.fire.at);
      await this.ctx.storage.setAlarm(this.clock.now().getTime());
    }
    return { fired, missed: plan.missed.count };
  }

  /** The campaign was deleted: stop handing out pages now. */
  async cancel(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    const open = this.sql.exec<RunRow>("SELECT * FROM runs WHERE state = 'paging'").toArray();
    if (open.length === 0) return;
    const db = this.db;
    const at = this.clock.now().toISOString();
    await db.batch(
      open.flatMap((r) => [
        db.update(jobRuns).set({ state: "cancelled", targets: r.handed, finishedAt: at }).where(eq(jobRuns.id, r.run_id)),
        eventInsert(db, { at, type: "run.cancelled", actor: "system", jobId: r.job_id, data: { run_id: r.run_id, handed_out: r.handed } }),
      ]) as [any, ...any[]],
    );
    this.sql.exec("UPDATE runs SET state = 'cancelled' WHERE state = 'paging'");
  }

  /** The campaign was resumed: carry on with a run that was being handed out when it was paused. */
  async resume(): Promise<void> {
    const open = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs WHERE state = 'paging'").one().n;
    if (open > 0) await this.ctx.storage.setAlarm(this.clock.now().getTime());
  }

  /**
   * A provider throttled one of this run's pushes (429 or a quota error). The run's rate halves (once per burst)
   * and the caller gets the next free send slot at the new rate for its retry. Returns null for an unknown run.
   */
  async throttled(runId: string, retryAfterMs?: number): Promise<number | null> {
    const run = this.sql.exec<RunRow>("SELECT * FROM runs WHERE run_id = ?", runId).toArray()[0];
    if (!run) return null;
    const now = this.clock.now().getTime();
    const job = await this.db.select({ rate: jobs.rolloutPerMinute }).from(jobs).where(eq(jobs.id, run.job_id)).get();
    const before = this.paceOf(run, job?.rate ?? null);
    const after = onThrottle(before, now, retryAfterMs);
    const slot = schedule(after, 1, now);
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ?", JSON.stringify(slot.pace), runId);
    if (after.current !== before.current) {
      await eventInsert(this.db, {
        at: new Date(now).toISOString(),
        type: "run.throttled",
        actor: "system",
        jobId: run.job_id,
        data: { run_id: runId, rate_per_minute: after.current, was: before.current, retry_after_ms: retryAfterMs ?? null },
      });
    }
    return slot.times[0];
  }

  private paceOf(run: RunRow, configured: number | null): Pace {
    return run.pace ? (JSON.parse(run.pace) as Pace) : newPace(configured, run.run_at);
  }

  /** For tests and operators. */
  async runs(): Promise<RunRow[]> {
    return this.sql.exec<RunRow>("SELECT * FROM runs ORDER BY run_at").toArray();
  }

  async alarm(): Promise<void> {
    const run = this.sql.exec<RunRow>("SELECT * FROM runs WHERE state = 'paging' ORDER BY run_at LIMIT 1").toArray()[0];
    if (!run) return;
    try {
      const job = await this.db.select().from(jobs).where(eq(jobs.id, run.job_id)).get();
      if (!job || job.state === "deleted") return await this.cancel();
      if (job.state === "paused") return; // resume() re-arms
      const next = await this.page(job, run);
      if (next !== null) await this.ctx.storage.setAlarm(next);
    } catch (e) {
      // Hand-offs are idempotent, so the page is simply walked again; the platform's own retry is not relied on.
      log.error("CampaignRunner.alarm", String(e), { run: run.run_id });
      await this.ctx.storage.setAlarm(this.clock.now().getTime() + ERROR_BACKOFF_MS);
    }
  }

  /** Hand out one page of the run's targets. Returns when the alarm should fire next, or null when all is done. */
  private async page(job: JobRow, run: RunRow): Promise<number | null> {
    const cs = campaignSettings(this.env);
    const db = this.db;
    const conds = reachConditions({ kind: job.kind, target: JSON.parse(job.target) as Target, testName: job.testName });
    if (run.cursor) conds.push(gt(probes.id, run.cursor));
    const rows = await db
      .select({ id: probes.id })
      .from(probes)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(asc(probes.id))
      .limit(cs.fanoutPageSize)
      .all();
    const now = this.clock.now().getTime();
    // Send slots come from the run's pace: the configured rollout rate, lowered while providers throttle.
    const paced = schedule(recover(this.paceOf(run, job.rolloutPerMinute), now), rows.length, run.run_at);
    const occurrences: Occurrence[] = rows.map((p, i) => {
      const id = occurrenceId(job.id, run.run_at, p.id);
      const send = Math.max(paced.times[i] + Math.floor(unitHash(id) * job.delayS * 1000), 0);
      return {
        id,
        jobId: job.id,
        runId: run.run_id,
        probeId: p.id,
        kind: job.kind,
        testName: job.testName,
        arguments: job.arguments,
        alertMessage: job.alertMessage,
        alertExtra: job.alertExtra,
        sendAtMs: send,
        expireAtMs: Math.max(send, now) + job.taskTimeoutS * 1000,
      };
    });
    await pool(occurrences, cs.fanoutConcurrency, (o) => this.env.PROBE_SCHEDULER.getByName(o.probeId).enqueue(o));
    const handed = run.handed + rows.length;
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ?", JSON.stringify(paced.pace), run.run_id);
    const cursor = rows.length ? rows[rows.length - 1].id : run.cursor;
    if (rows.length < cs.fanoutPageSize) {
      const at = this.clock.now().toISOString();
      await db.batch([
        db.update(jobRuns).set({ state: "dispatched", targets: handed, finishedAt: at }).where(eq(jobRuns.id, run.run_id)),
        eventInsert(db, { at, type: "run.dispatched", actor: "system", jobId: job.id, data: { run_id: run.run_id, targets: handed } }),
      ]);
      this.sql.exec("UPDATE runs SET state = 'dispatched', cursor = ?, handed = ? WHERE run_id = ?", cursor, handed, run.run_id);
      const more = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs WHERE state = 'paging'").one().n;
      return more > 0 ? now : null;
    }
    this.sql.exec("UPDATE runs SET cursor = ?, handed = ? WHERE run_id = ?", cursor, handed, run.run_id);
    await db.update(jobRuns).set({ targets: handed }).where(eq(jobRuns.id, run.run_id));
    // With a rollout rate, hand out the next page shortly before its first push is due rather than all at once.
    return Math.max(now + cs.fanoutPageIntervalMs, paced.pace.cursorMs - PAGE_LEAD_MS);
  }
}
