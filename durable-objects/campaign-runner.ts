import { DurableObject } from "cloudflare:workers";
import type { JobRow } from "../schema/campaigns";
import { firedRunId, nextPageAt, pageOccurrences, type RunRow, throttledRun } from "../functions/campaigns/fanout";
import { jobById, reachPage, rolloutRate } from "../functions/campaigns/queries";
import { planDue, storedSchedule } from "../functions/campaigns/schedule";
import { campaignSettings } from "../functions/campaigns/settings";
import { runBatch, runDispatched, runProgress, runsCancelled, runsFired, runThrottled } from "../functions/campaigns/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import { dbFrom } from "../functions/lib/db";
import { addColumn, migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { log } from "../functions/lib/log";
import { pool } from "../functions/lib/pool";

const ERROR_BACKOFF_MS = 10_000;

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: the runs being handed out, with their adaptive rollout state (the pace column predates versioning).
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS runs (
      run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_at INTEGER NOT NULL, state TEXT NOT NULL,
      cursor TEXT NOT NULL DEFAULT '', handed INTEGER NOT NULL DEFAULT 0)`);
    addColumn(sql, "runs", "pace", "TEXT");
  },
];

/**
 * One per campaign (named by job id). It serialises everything about its campaign's runs: a re-fired or duplicated
 * cron meets the same object, which fires each run once. It walks a run's targets in bounded pages, one page per
 * alarm invocation, so a run over 1,000,000 probes costs the same per invocation as a run over 10
 * (docs/decisions/0003-fanout-limits.md). What fires and what a page becomes is decided by
 * functions/campaigns/schedule.ts and fanout.ts; this object stores the paging state and sets its alarm.
 */
export class CampaignRunner extends DurableObject<Env> {
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

  /** Called by the minute cron for a due campaign. Serialised, so concurrent or repeated calls fire a run once. */
  async fire(jobId: string, nowMs: number): Promise<{ fired: string | null; missed: number }> {
    return this.ctx.blockConcurrencyWhile(() => this.fireLocked(jobId, nowMs));
  }

  private async fireLocked(jobId: string, nowMs: number): Promise<{ fired: string | null; missed: number }> {
    const db = this.db;
    const job = await jobById(db, jobId);
    if (job?.state !== "active" || job.nextRunAt === null || Date.parse(job.nextRunAt) > nowMs) return { fired: null, missed: 0 };
    const plan = planDue(storedSchedule(job.schedule, Date.parse(job.startAt)), Date.parse(job.nextRunAt), nowMs, job.startingDeadlineS * 1000);
    const fired = firedRunId(jobId, plan);
    await runBatch(db, runsFired(db, job, plan, fired, new Date(nowMs).toISOString()));
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
    await runBatch(this.db, runsCancelled(this.db, open, this.clock.now().toISOString()));
    this.sql.exec("UPDATE runs SET state = 'cancelled' WHERE state = 'paging'");
  }

  /** The campaign was resumed: carry on with a run that was being handed out when it was paused. */
  async resume(): Promise<void> {
    if (this.openRuns() > 0) await this.ctx.storage.setAlarm(this.clock.now().getTime());
  }

  private openRuns(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs WHERE state = 'paging'").one().n;
  }

  /**
   * A provider throttled one of this run's pushes (429 or a quota error). The run's rate halves (once per burst)
   * and the caller gets the next free send slot at the new rate for its retry. Returns null for an unknown run.
   */
  async throttled(runId: string, retryAfterMs?: number): Promise<number | null> {
    const run = this.sql.exec<RunRow>("SELECT * FROM runs WHERE run_id = ?", runId).toArray()[0];
    if (!run) return null;
    const now = this.clock.now().getTime();
    const t = throttledRun(run, await rolloutRate(this.db, run.job_id), now, retryAfterMs);
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ?", JSON.stringify(t.pace), runId);
    if (t.slowed) await runBatch(this.db, runThrottled(this.db, run.job_id, runId, new Date(now).toISOString(), { ...t.slowed, retryAfterMs }));
    return t.slotMs;
  }

  /** For tests and operators. */
  async runs(): Promise<RunRow[]> {
    return this.sql.exec<RunRow>("SELECT * FROM runs ORDER BY run_at").toArray();
  }

  async alarm(): Promise<void> {
    const run = this.sql.exec<RunRow>("SELECT * FROM runs WHERE state = 'paging' ORDER BY run_at LIMIT 1").toArray()[0];
    if (!run) return;
    try {
      const job = await jobById(this.db, run.job_id);
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
    const ids = await reachPage(db, job, run.cursor, cs.fanoutPageSize);
    const now = this.clock.now().getTime();
    const { occurrences, pace } = pageOccurrences(job, run, ids, now);
    await pool(occurrences, cs.fanoutConcurrency, (o) => this.env.PROBE_SCHEDULER.getByName(o.probeId).enqueue(o));
    const handed = run.handed + ids.length;
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ?", JSON.stringify(pace), run.run_id);
    const cursor = ids.length ? ids[ids.length - 1] : run.cursor;
    if (ids.length < cs.fanoutPageSize) {
      await runBatch(db, runDispatched(db, job.id, run.run_id, handed, this.clock.now().toISOString()));
      this.sql.exec("UPDATE runs SET state = 'dispatched', cursor = ?, handed = ? WHERE run_id = ?", cursor, handed, run.run_id);
      return this.openRuns() > 0 ? now : null;
    }
    this.sql.exec("UPDATE runs SET cursor = ?, handed = ? WHERE run_id = ?", cursor, handed, run.run_id);
    await runBatch(db, runProgress(db, run.run_id, handed));
    return nextPageAt(now, cs.fanoutPageIntervalMs, pace);
  }
}
