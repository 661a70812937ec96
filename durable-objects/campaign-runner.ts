import { DurableObject } from "cloudflare:workers";
import type { JobRow } from "../schema/campaigns";
import type { Occurrence } from "../functions/campaigns/delivery";
import { firedRunId, nextPageAt, pageOccurrences, type RunRow, throttledRun } from "../functions/campaigns/fanout";
import { jobById, reachPage, rolloutRate } from "../functions/campaigns/queries";
import { planDue, storedSchedule } from "../functions/campaigns/schedule";
import { campaignSettings } from "../functions/campaigns/settings";
import { groupByShard } from "../functions/campaigns/shards";
import { runBatch, runCommitted, runDispatched, runProgress, runsCancelled, runsFired, runThrottled } from "../functions/campaigns/store";
import { type Clock, systemClock } from "../functions/lib/clock";
import { dbFrom } from "../functions/lib/db";
import { addColumn, migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { log } from "../functions/lib/log";
import { pool } from "../functions/lib/pool";

const ERROR_BACKOFF_MS = 10_000;
/** A run written locally but not yet known to be in D1 is looked at again this much later (reconcile()). */
const RECONCILE_MS = 30_000;

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: the runs being handed out, with their adaptive rollout state (the pace column predates versioning).
  (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS runs (
      run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_at INTEGER NOT NULL, state TEXT NOT NULL,
      cursor TEXT NOT NULL DEFAULT '', handed INTEGER NOT NULL DEFAULT 0)`);
    addColumn(sql, "runs", "pace", "TEXT");
  },
  // 2: the scheduler shard count a run is handed to, fixed at its fire; 0 for runs fired before sharding, which
  // finish as they started (one ProbeScheduler per probe).
  (sql) => addColumn(sql, "runs", "shards", "INTEGER NOT NULL DEFAULT 0"),
];

/**
 * One per campaign (named by job id). It serialises everything about its campaign's runs: a re-fired or duplicated
 * cron meets the same object, which fires each run once. It walks a run's targets in bounded pages, one page per
 * alarm invocation, and hands each page to the scheduler shards in one RPC per shard, so a run over 1,000,000 probes
 * costs the same per invocation as a run over 10 (docs/decisions/0013-sharded-schedulers.md). What fires and what a
 * page becomes is decided by functions/campaigns/schedule.ts, fanout.ts and shards.ts; this object stores the paging
 * state and sets its alarm.
 *
 * Ordering (so that no eviction loses or duplicates a run): a fired run is written locally as `firing` BEFORE its D1
 * commit, then moved to `paging`; an eviction in between leaves a `firing` row that the alarm reconciles with D1
 * (committed: page it; not: drop it, the cron fires it again). A cancel marks the runs `cancelling` before any await,
 * and every later write of a page is guarded by `paging` locally and `dispatching` in D1, so a page in flight never
 * turns a cancelled run into a dispatched one.
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
    const shards = campaignSettings(this.env).schedulerShards;
    if (plan.fire && fired) {
      // Local first: the alarm finds this row even if the object is evicted before or after the commit.
      this.sql.exec("INSERT OR IGNORE INTO runs (run_id, job_id, run_at, state, shards) VALUES (?, ?, ?, 'firing', ?)", fired, jobId, plan.fire.at, shards);
      await this.ctx.storage.setAlarm(this.clock.now().getTime() + RECONCILE_MS);
    }
    await runBatch(db, runsFired(db, job, plan, fired, new Date(nowMs).toISOString()));
    if (plan.fire && fired) {
      // An upsert: if a reconcile dropped the row while the commit was in flight, it comes back as paging.
      this.sql.exec(
        `INSERT INTO runs (run_id, job_id, run_at, state, shards) VALUES (?, ?, ?, 'paging', ?)
         ON CONFLICT(run_id) DO UPDATE SET state = 'paging' WHERE state = 'firing'`,
        fired,
        jobId,
        plan.fire.at,
        shards,
      );
      await this.ctx.storage.setAlarm(this.clock.now().getTime());
    }
    return { fired, missed: plan.missed.count };
  }

  /**
   * The campaign was deleted: stop handing out pages now. The runs are marked before any await (a page in flight
   * then stops at its next write), committed to D1, and marked cancelled; a failed commit is retried by the alarm.
   */
  async cancel(): Promise<void> {
    this.sql.exec("UPDATE runs SET state = 'cancelling' WHERE state IN ('paging', 'firing')");
    await this.commitCancels();
  }

  private async commitCancels(): Promise<void> {
    const open = this.sql.exec<RunRow>("SELECT * FROM runs WHERE state = 'cancelling'").toArray();
    if (open.length === 0) return;
    try {
      await runBatch(this.db, runsCancelled(this.db, open, this.clock.now().toISOString()));
    } catch (e) {
      await this.ctx.storage.setAlarm(this.clock.now().getTime() + ERROR_BACKOFF_MS);
      throw e;
    }
    for (const r of open) this.sql.exec("UPDATE runs SET state = 'cancelled' WHERE run_id = ? AND state = 'cancelling'", r.run_id);
  }

  /** The campaign was resumed: carry on with a run that was being handed out when it was paused. */
  async resume(): Promise<void> {
    if (this.openRuns() > 0) await this.ctx.storage.setAlarm(this.clock.now().getTime());
  }

  private openRuns(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs WHERE state = 'paging'").one().n;
  }

  private stillPaging(runId: string): boolean {
    return this.sql.exec<{ state: string }>("SELECT state FROM runs WHERE run_id = ?", runId).toArray()[0]?.state === "paging";
  }

  /**
   * A provider throttled one of this run's pushes (429 or a quota error). The run's rate halves (once per burst)
   * and the caller gets the next free send slot at the new rate for its retry. Returns null for an unknown run.
   */
  async throttled(runId: string, retryAfterMs?: number): Promise<number | null> {
    return (await this.throttledSlots(runId, 1, retryAfterMs))?.[0] ?? null;
  }

  /** `count` of this run's pushes were throttled at once (one gateway answer, or one scheduler alarm): a slot for each. */
  async throttledSlots(runId: string, count: number, retryAfterMs?: number): Promise<number[] | null> {
    const run = this.sql.exec<RunRow>("SELECT * FROM runs WHERE run_id = ?", runId).toArray()[0];
    if (!run) return null;
    const now = this.clock.now().getTime();
    const t = throttledRun(run, await rolloutRate(this.db, run.job_id), now, retryAfterMs, count);
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ?", JSON.stringify(t.pace), runId);
    if (t.slowed) await runBatch(this.db, runThrottled(this.db, run.job_id, runId, new Date(now).toISOString(), { ...t.slowed, retryAfterMs }));
    return t.slotsMs;
  }

  /** For tests and operators. */
  async runs(): Promise<RunRow[]> {
    return this.sql.exec<RunRow>("SELECT * FROM runs ORDER BY run_at").toArray();
  }

  /**
   * Runs written locally whose D1 commit is not known (an eviction between the two): committed ones are paged, the
   * others dropped (their fire never reached D1, so the cron fires them again). Cancels not yet committed are retried.
   * Serialised with fire(), so it never judges a commit that is in flight.
   */
  private async reconcile(): Promise<void> {
    await this.ctx.blockConcurrencyWhile(async () => {
      for (const r of this.sql.exec<RunRow>("SELECT * FROM runs WHERE state = 'firing'").toArray()) {
        if (await runCommitted(this.db, r.run_id)) this.sql.exec("UPDATE runs SET state = 'paging' WHERE run_id = ? AND state = 'firing'", r.run_id);
        else this.sql.exec("DELETE FROM runs WHERE run_id = ? AND state = 'firing'", r.run_id);
      }
    });
    await this.commitCancels();
  }

  async alarm(): Promise<void> {
    try {
      await this.reconcile();
    } catch (e) {
      log.error("CampaignRunner.reconcile", String(e), {});
      await this.ctx.storage.setAlarm(this.clock.now().getTime() + ERROR_BACKOFF_MS);
      return;
    }
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

  /** Hand one page's occurrences to their schedulers: one RPC per shard (or per probe for a run fired before sharding). */
  private async handOff(run: RunRow, occurrences: Occurrence[]): Promise<void> {
    const cs = campaignSettings(this.env);
    const groups = run.shards > 0 ? groupByShard(occurrences, run.shards) : occurrences.map((o) => ({ name: o.probeId, occurrences: [o] }));
    await pool(groups, cs.fanoutConcurrency, (g) => this.env.PROBE_SCHEDULER.getByName(g.name).enqueueMany(g.occurrences));
  }

  /** Hand out one page of the run's targets. Returns when the alarm should fire next, or null when all is done. */
  private async page(job: JobRow, run: RunRow): Promise<number | null> {
    const cs = campaignSettings(this.env);
    const db = this.db;
    const ids = await reachPage(db, job, run.cursor, cs.fanoutPageSize);
    const now = this.clock.now().getTime();
    const { occurrences, pace } = pageOccurrences(job, run, ids, now);
    await this.handOff(run, occurrences);
    // A cancel (or a pause's eventual delete) may have come while the page was handed out: it wins.
    if (!this.stillPaging(run.run_id)) return this.openRuns() > 0 ? now : null;
    const handed = run.handed + ids.length;
    const cursor = ids.length ? ids[ids.length - 1] : run.cursor;
    this.sql.exec("UPDATE runs SET pace = ? WHERE run_id = ? AND state = 'paging'", JSON.stringify(pace), run.run_id);
    if (ids.length < cs.fanoutPageSize) {
      // D1 first (guarded: only from dispatching, once); an eviction before the local write re-walks this page (idempotent).
      await runBatch(db, runDispatched(db, job.id, run.run_id, handed, this.clock.now().toISOString()));
      this.sql.exec("UPDATE runs SET state = 'dispatched', cursor = ?, handed = ? WHERE run_id = ? AND state = 'paging'", cursor, handed, run.run_id);
      return this.openRuns() > 0 ? now : null;
    }
    this.sql.exec("UPDATE runs SET cursor = ?, handed = ? WHERE run_id = ? AND state = 'paging'", cursor, handed, run.run_id);
    await runBatch(db, runProgress(db, run.run_id, handed));
    return nextPageAt(now, pace);
  }
}
