import { and, asc, count, desc, eq, gt, type SQL, sql } from "drizzle-orm";
import { type JobRow, jobRuns, jobs, type TaskState } from "../../schema/campaigns";
import { events } from "../../schema/events";
import { probes } from "../../schema/probes";
import type { Db } from "../lib/db";
import { startsWith } from "../lib/sql-lists";
import { hasOpenDeliveries, jobView, runCounterSums, runTaskCounts, runView } from "./jobs";
import { pushable, reachConditions } from "./reach";
import { type Schedule, storedSchedule, upcoming } from "./schedule";
import type { Target } from "./targeting";

// Campaign reads, shared by the job API (admin-routes.ts) and the console's campaign pages. Views reuse the API's
// own shapes (jobView, runView) so a campaign reads the same on a page and in GET /api/v1/admin/job/:id.

/** How many next runs a preview or a detail lists. */
export const UPCOMING_SHOWN = 5;
/** The API's list stops here. */
export const JOB_LIST_LIMIT = 1000;
/** The console's campaigns list shows at most this many, newest first. */
export const CAMPAIGN_LIST_LIMIT = 200;
/** The console's detail page charts the latest runs; the API's detail lists this many. */
export const RUNS_SHOWN = 30;
export const API_RUNS_SHOWN = 100;

const iso = (ms: number) => new Date(ms).toISOString();

/** The next runs of a schedule from `fromMs`, as RFC 3339 times (the dry run's preview). */
export function upcomingFrom(schedule: Schedule, fromMs: number, n = UPCOMING_SHOWN): string[] {
  return upcoming(schedule, Math.max(fromMs, 0), n).map(iso);
}

/** A stored campaign's next runs, from its next run on; none once it is done or deleted. */
export function upcomingRuns(job: Pick<JobRow, "schedule" | "startAt" | "nextRunAt" | "state">, n = UPCOMING_SHOWN): string[] {
  if (!job.nextRunAt || (job.state !== "active" && job.state !== "paused")) return [];
  return upcomingFrom(storedSchedule(job.schedule, Date.parse(job.startAt)), Date.parse(job.nextRunAt), n);
}

/** One campaign by id (any case), or null. */
export async function jobById(db: Db, id: string): Promise<JobRow | null> {
  return (await db.select().from(jobs).where(eq(jobs.id, id.toLowerCase())).get()) ?? null;
}

/** Every campaign, newest first (deleted ones included, as OONI did). */
export async function listJobs(db: Db): Promise<JobRow[]> {
  return db.select().from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(JOB_LIST_LIMIT).all();
}

/** Who a campaign would reach, and how many of those can be pushed: one D1 round trip, creates nothing. */
export async function reachCounts(db: Db, job: { kind: "task" | "alert"; target: Partial<Target>; testName: string | null }) {
  const conds = reachConditions(job);
  const where = conds.length ? and(...conds) : undefined;
  const live = and(...([...conds, pushable()] as SQL[]));
  const by = (col: typeof probes.probeCc | typeof probes.probeAsn | typeof probes.platform) =>
    db
      .select({ key: sql<string>`${col}`, count: count() })
      .from(probes)
      .where(where)
      .groupBy(col)
      .orderBy(desc(count()), col)
      .limit(100);
  const [total, withToken, byCountry, byAsn, byPlatform] = await db.batch([
    db.select({ n: count() }).from(probes).where(where),
    db.select({ n: count() }).from(probes).where(live),
    by(probes.probeCc),
    by(probes.probeAsn),
    by(probes.platform),
  ]);
  return { targets: total[0]?.n ?? 0, withPushToken: withToken[0]?.n ?? 0, byCountry, byAsn, byPlatform };
}

export type DeliveryCounts = { sent: number; accepted: number; failed: number; token_expired: number; deferred: number; skipped: number; retried: number };

/** Push outcomes of a campaign from its delivery log (the push.* events). */
export function deliveryCounts(rows: { type: string; expired: number | null; n: number }[]): DeliveryCounts {
  const d = { sent: 0, accepted: 0, failed: 0, token_expired: 0, deferred: 0, skipped: 0, retried: 0 };
  for (const r of rows) {
    if (r.type === "push.sent") d.sent += r.n;
    else if (r.type === "push.accepted") d.accepted += r.n;
    else if (r.type === "push.failed" && r.expired) d.token_expired += r.n;
    else if (r.type === "push.failed") d.failed += r.n;
    else if (r.type === "push.deferred") d.deferred += r.n;
    else if (r.type === "push.skipped") d.skipped += r.n;
    else if (r.type === "push.retry") d.retried += r.n;
  }
  return d;
}

/** The API's detail of one campaign: its latest runs, task counts by state, delivery counts, next runs. */
export async function jobDetail(db: Db, job: JobRow) {
  const [runs, counts, delivery] = await db.batch([
    db.select().from(jobRuns).where(eq(jobRuns.jobId, job.id)).orderBy(desc(jobRuns.scheduledAt)).limit(API_RUNS_SHOWN),
    // Task totals from the runs' counters, not from the tasks table: the retention cron prunes old tasks.
    db.select(runCounterSums).from(jobRuns).where(eq(jobRuns.jobId, job.id)),
    db
      .select({ type: events.type, expired: sql<number>`json_extract(${events.data}, '$.token_expired')`, n: count() })
      .from(events)
      .where(and(eq(events.jobId, job.id), startsWith(events.type, "push.")))
      .groupBy(events.type, sql`json_extract(${events.data}, '$.token_expired')`),
  ]);
  const taskCounts = runTaskCounts(counts[0]);
  return {
    ...jobView(job),
    runs: runs.map(runView),
    task_counts: taskCounts,
    delivery: deliveryCounts(delivery),
    upcoming_runs: upcomingRuns(job),
  };
}

export type JobView = ReturnType<typeof jobView>;
export type CampaignListRow = JobView & { task_counts: Partial<Record<TaskState, number>> };

/** The states that have tasks (the pages show only those). */
const present = (counts: Record<TaskState, number>): Partial<Record<TaskState, number>> =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)) as Partial<Record<TaskState, number>>;

/**
 * The console's campaigns with their task counts by state: two statements in one batch, counts summed from the runs'
 * counters (job_runs.tasks_*), which stay as they were when the retention cron prunes old tasks.
 */
export async function campaignList(db: Db): Promise<CampaignListRow[]> {
  const newest = sql`SELECT id FROM ${jobs} ORDER BY created_at DESC, id DESC LIMIT ${CAMPAIGN_LIST_LIMIT}`;
  const [rows, counts] = await db.batch([
    db.select().from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(CAMPAIGN_LIST_LIMIT),
    db
      .select({ job_id: jobRuns.jobId, ...runCounterSums })
      .from(jobRuns)
      .where(sql`${jobRuns.jobId} IN (${newest})`)
      .groupBy(jobRuns.jobId),
  ]);
  const byJob = new Map(counts.map((c) => [c.job_id, present(runTaskCounts(c))]));
  return rows.map((r: JobRow) => ({ ...jobView(r), task_counts: byJob.get(r.id) ?? {} }));
}

export type RunView = Omit<ReturnType<typeof runView>, "tasks"> & { tasks: Partial<Record<TaskState, number>> };

/**
 * The console's campaign: definition, latest runs with their tasks by state, task totals, next runs. Null when
 * unknown. Every figure comes from the runs' counters (job_runs.tasks_*), so pruning old tasks changes none of them.
 */
export async function campaignDetail(db: Db, id: string) {
  const [jobRows, runs, totals] = await db.batch([
    db.select().from(jobs).where(eq(jobs.id, id)).limit(1),
    db.select().from(jobRuns).where(eq(jobRuns.jobId, id)).orderBy(desc(jobRuns.scheduledAt)).limit(RUNS_SHOWN),
    db.select(runCounterSums).from(jobRuns).where(eq(jobRuns.jobId, id)),
  ]);
  const job = jobRows[0];
  if (!job) return null;
  const runViews: RunView[] = runs.map((r) => ({ ...runView(r), tasks: present(runTaskCounts(r)) }));
  return { job: jobView(job), runs: runViews, task_counts: present(runTaskCounts(totals[0])), upcoming_runs: upcomingRuns(job) };
}

/** One page of a campaign's reach, in probe id order after `cursor` (keyset paging over the reach rule). */
export async function reachPage(db: Db, job: Pick<JobRow, "kind" | "target" | "testName">, cursor: string, limit: number): Promise<string[]> {
  const conds = reachConditions({ kind: job.kind, target: JSON.parse(job.target) as Target, testName: job.testName });
  if (cursor) conds.push(gt(probes.id, cursor));
  const rows = await db
    .select({ id: probes.id })
    .from(probes)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(probes.id))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** A campaign's configured rollout rate (pushes per minute), or null. */
export async function rolloutRate(db: Db, jobId: string): Promise<number | null> {
  return (await db.select({ rate: jobs.rolloutPerMinute }).from(jobs).where(eq(jobs.id, jobId)).get())?.rate ?? null;
}

/** How many of a campaign's latest runs a pause looks at for pushes still to send. */
export const OPEN_RUNS_LOOKED_AT = 20;

/** Whether a campaign's latest runs may still have pushes to send (jobs.ts hasOpenDeliveries). */
export async function openDeliveries(db: Db, job: Pick<JobRow, "id" | "kind" | "delayS" | "taskTimeoutS">, nowMs: number): Promise<boolean> {
  const runs = await db
    .select({ state: jobRuns.state, scheduledAt: jobRuns.scheduledAt, tasksReady: jobRuns.tasksReady })
    .from(jobRuns)
    .where(eq(jobRuns.jobId, job.id))
    .orderBy(desc(jobRuns.scheduledAt))
    .limit(OPEN_RUNS_LOOKED_AT);
  return hasOpenDeliveries(job, runs, nowMs);
}
