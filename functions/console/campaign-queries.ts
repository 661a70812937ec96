import { count, desc, eq, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { type JobRow, jobRuns, jobs, type TaskState } from "../../schema/campaigns";
import { probes } from "../../schema/probes";
import { jobView, runCounterSums, runTaskCounts, runView } from "../campaigns/jobs";
import { storedSchedule, upcoming } from "../campaigns/schedule";
import type { Db } from "../lib/db";

// Read-only campaign queries for the console pages (the campaign API's handlers keep theirs inline). Views reuse the
// API's own shapes (jobView) so a campaign reads the same on the page and in GET /api/v1/admin/job/:id.

/** The campaigns list shows at most this many, newest first (the API's list stops at 1000). */
export const CAMPAIGN_LIST_LIMIT = 200;
/** The detail page charts the latest runs. */
export const RUNS_SHOWN = 30;

export type JobView = ReturnType<typeof jobView>;
export type CampaignListRow = JobView & { task_counts: Partial<Record<TaskState, number>> };

/** The states that have tasks (the pages show only those). */
const present = (counts: Record<TaskState, number>): Partial<Record<TaskState, number>> =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)) as Partial<Record<TaskState, number>>;

/**
 * Campaigns with their task counts by state: two statements in one batch, task counts summed from the runs'
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

export type RunView = {
  id: string;
  run_no: number | null;
  scheduled_at: string;
  fired_at: string | null;
  state: string;
  targets: number;
  missed_count: number;
  finished_at: string | null;
  tasks: Partial<Record<TaskState, number>>;
};

/**
 * One campaign: definition, latest runs with their tasks by state, task totals, next runs. Null when unknown. Every
 * figure comes from the runs' counters (job_runs.tasks_*), so pruning old tasks changes none of them.
 */
export async function campaignDetail(db: Db, id: string) {
  const [jobRows, runs, totals] = await db.batch([
    db.select().from(jobs).where(eq(jobs.id, id)).limit(1),
    db.select().from(jobRuns).where(eq(jobRuns.jobId, id)).orderBy(desc(jobRuns.scheduledAt)).limit(RUNS_SHOWN),
    db.select(runCounterSums).from(jobRuns).where(eq(jobRuns.jobId, id)),
  ]);
  const job = jobRows[0];
  if (!job) return null;
  const byRun = new Map(runs.map((r) => [r.id, present(runTaskCounts(r))]));
  const taskCounts = present(runTaskCounts(totals[0]));
  const next = job.nextRunAt && (job.state === "active" || job.state === "paused") ? Date.parse(job.nextRunAt) : null;
  const upcomingRuns = next === null ? [] : upcoming(storedSchedule(job.schedule, Date.parse(job.startAt)), next, 5).map((ms) => new Date(ms).toISOString());
  const runViews: RunView[] = runs.map((r) => ({ ...runView(r), tasks: byRun.get(r.id) ?? {} }));
  return { job: jobView(job), runs: runViews, task_counts: taskCounts, upcoming_runs: upcomingRuns };
}

export type FleetValue = { value: string; n: number };
export type FleetValues = Record<"countries" | "asns" | "platforms" | "network_types" | "software_names" | "supported_tests", FleetValue[]>;

/** The ASN picker lists the most common networks only (a fleet can span thousands); others can be typed. */
export const ASN_CHOICES = 300;

/**
 * The values present in the fleet, most common first, for the campaign form's target pickers. One batch: the
 * country, ASN and platform counts come from their indexes; network type, software and supported tests scan.
 */
export async function fleetValues(db: Db): Promise<FleetValues> {
  const by = (col: SQLiteColumn, limit = 1000) =>
    db
      .select({ value: sql<string>`${col}`, n: count() })
      .from(probes)
      .where(sql`${col} IS NOT NULL AND ${col} != ''`)
      .groupBy(col)
      .orderBy(desc(count()), col)
      .limit(limit);
  const [countries, asns, platforms, networkTypes, software, tests] = await db.batch([
    by(probes.probeCc),
    by(probes.probeAsn, ASN_CHOICES),
    by(probes.platform),
    by(probes.networkType, 50),
    by(probes.softwareName, 100),
    db.all<FleetValue>(
      sql`SELECT t.value AS value, COUNT(*) AS n FROM ${probes}, json_each(${probes.supportedTests}) AS t GROUP BY t.value ORDER BY n DESC, t.value LIMIT 100`,
    ),
  ]);
  return { countries, asns, platforms, network_types: networkTypes, software_names: software, supported_tests: tests as FleetValue[] };
}
