import { type SQL, sql } from "drizzle-orm";
import { jobRuns, TASK_STATES, type TaskState, tasks } from "../../schema/campaigns";
import { events } from "../../schema/events";
import { probeUpdates } from "../../schema/probes";
import { retentionSweeps } from "../../schema/retention";
import type { Db } from "../lib/db";
import type { RetentionSettings } from "./settings";

// Pruning in bounded batches. Every DELETE removes at most `batchRows` rows chosen by an index (or by an id window),
// so no statement comes near D1's 30 s per query, and a cron run issues at most `statementsPerRun` statements, well
// under the invocation's query and subrequest limits. What stays: open tasks, each probe's latest history row, and
// the runs' task counters (job_runs.tasks_*), which no deletion touches.

/** States a task never leaves. `accepted` is not one: the probe may still report it done. */
export const FINAL_TASK_STATES: readonly TaskState[] = TASK_STATES.filter((s) => s === "rejected" || s === "done" || s === "expired" || s === "failed");

/** The delivery log: what the probe schedulers record about each push (functions/campaigns, durable-objects/probe-scheduler.ts). */
export const DELIVERY_EVENT_TYPES = ["push.sent", "push.retry", "push.failed", "push.skipped", "push.deferred"] as const;

/** Statements one turn of every kind can take (tasks, deliveries, events: 1 each; a history window: 4). */
export const STATEMENTS_PER_TURN = 7;

/** After a full sweep of the history table, the next one starts this much later (retention is counted in days). */
export const SWEEP_REST_MS = 86_400_000;

const DAY_MS = 86_400_000;
const quoted = (xs: readonly string[]) => sql.raw(xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(", "));

/** The instant before which each kind of record is old, or null when it is kept forever. Pure. */
export function cutoffs(s: RetentionSettings, nowMs: number) {
  const before = (days: number) => (days > 0 ? new Date(nowMs - days * DAY_MS).toISOString() : null);
  return { tasks: before(s.taskDays), events: before(s.eventDays), delivery: before(s.deliveryDays), probeHistory: before(s.probeHistoryDays) };
}

const changes = (r: unknown) => (r as { meta?: { changes?: number } })?.meta?.changes ?? 0;

/**
 * Final tasks of runs scheduled before the cutoff whose last change is also before it. Found from the (small)
 * job_runs table and the (job_id, run_id, state) index of tasks, so no index on tasks' times is needed.
 */
export async function pruneTasks(db: Db, cutoff: string, limit: number): Promise<number> {
  const r = await db.run(sql`DELETE FROM ${tasks} WHERE rowid IN (
    SELECT t.rowid FROM ${jobRuns} r JOIN ${tasks} t ON t.job_id = r.job_id AND t.run_id = r.id
    WHERE r.scheduled_at < ${cutoff} AND t.state IN (${quoted(FINAL_TASK_STATES)}) AND t.updated_at < ${cutoff}
    LIMIT ${limit})`);
  return changes(r);
}

/**
 * The first event id at or after the cutoff, or one past the last id when every event is older: old rows are then
 * found by their ids (an index range) rather than by scanning times, also for one type. Event ids grow with time (an
 * event is written at its own time, D1 numbers rows in commit order), so the boundary is exact up to clock skew
 * between isolates; `at < cutoff` is still checked on each row, so nothing newer is ever deleted.
 */
const firstIdFrom = (cutoff: string): SQL =>
  sql`coalesce((SELECT id FROM ${events} WHERE at >= ${cutoff} ORDER BY at LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM ${events}))`;

/** Events of every type older than the cutoff, oldest first. */
export async function pruneEvents(db: Db, cutoff: string, limit: number): Promise<number> {
  const r = await db.run(sql`DELETE FROM ${events} WHERE id IN (
    SELECT id FROM ${events} WHERE id < ${firstIdFrom(cutoff)} AND at < ${cutoff} ORDER BY id LIMIT ${limit})`);
  return changes(r);
}

/** Delivery records (push.* events) older than the cutoff, from the (type, id) index. */
export async function pruneDeliveries(db: Db, cutoff: string, limit: number): Promise<number> {
  const r = await db.run(sql`DELETE FROM ${events} WHERE id IN (
    SELECT id FROM ${events} WHERE type IN (${quoted(DELIVERY_EVENT_TYPES)}) AND id < ${firstIdFrom(cutoff)} AND at < ${cutoff} LIMIT ${limit})`);
  return changes(r);
}

const SWEEP = "probe_updates";

/**
 * One window of the probe-history sweep: rows older than the cutoff except each probe's latest. History has no
 * index on time and the kept rows (a quiet probe's only row) can be old, so the sweep walks id windows of `limit`
 * rows, remembering where it stopped in retention_sweeps; it ends at the first window that starts at a row newer than
 * the cutoff (ids grow with time) and rests a day. Returns the rows deleted, the statements used, and whether to go on.
 */
export async function pruneProbeHistoryWindow(
  db: Db,
  cutoff: string,
  limit: number,
  nowMs: number,
): Promise<{ deleted: number; statements: number; more: boolean }> {
  const now = new Date(nowMs).toISOString();
  const state = await db.select().from(retentionSweeps).where(sql`${retentionSweeps.name} = ${SWEEP}`).get();
  if (state?.restUntil && state.restUntil > now) return { deleted: 0, statements: 1, more: false };
  const from = state?.cursor ?? 0;
  const win = await db.get<{ hi: number | null; first_at: string | null; n: number }>(sql`
    SELECT max(id) AS hi, min(at) AS first_at, count(*) AS n FROM (SELECT id, at FROM ${probeUpdates} WHERE id > ${from} ORDER BY id LIMIT ${limit})`);
  const save = (cursor: number, restUntil: string | null) =>
    db
      .insert(retentionSweeps)
      .values({ name: SWEEP, cursor, restUntil, updatedAt: now })
      .onConflictDoUpdate({ target: retentionSweeps.name, set: { cursor, restUntil, updatedAt: now } });
  if (!win || win.n === 0 || win.hi === null || (win.first_at !== null && win.first_at >= cutoff)) {
    await save(0, new Date(nowMs + SWEEP_REST_MS).toISOString());
    return { deleted: 0, statements: 3, more: false };
  }
  const [del] = await db.batch([
    db.delete(probeUpdates).where(
      sql`${probeUpdates.id} > ${from} AND ${probeUpdates.id} <= ${win.hi} AND ${probeUpdates.at} < ${cutoff}
          AND ${probeUpdates.id} < (SELECT max(m.id) FROM ${probeUpdates} m WHERE m.probe_id = ${probeUpdates.probeId})`,
    ),
    save(win.hi, null),
  ]);
  return { deleted: changes(del), statements: 4, more: true };
}

export type PruneReport = { tasks: number; deliveries: number; events: number; probe_updates: number; statements: number };

type Step = () => Promise<{ deleted: number; statements: number; more: boolean }>;

/**
 * One cron run of pruning: the kinds take turns, one bounded statement (or history window) each, until every kind
 * is done or the run's statement budget is spent; a backlog is worked off over later runs. Returns what was deleted.
 */
export async function pruneOnce(db: Db, s: RetentionSettings, nowMs: number): Promise<PruneReport> {
  const cut = cutoffs(s, nowMs);
  const n = s.batchRows;
  const one =
    (f: (db: Db, cutoff: string, limit: number) => Promise<number>, cutoff: string): Step =>
    async () => {
      const deleted = await f(db, cutoff, n);
      return { deleted, statements: 1, more: deleted >= n };
    };
  const steps: [keyof Omit<PruneReport, "statements">, Step, number][] = [];
  if (cut.tasks) steps.push(["tasks", one(pruneTasks, cut.tasks), 1]);
  if (cut.delivery) steps.push(["deliveries", one(pruneDeliveries, cut.delivery), 1]);
  if (cut.events) steps.push(["events", one(pruneEvents, cut.events), 1]);
  if (cut.probeHistory) {
    const c = cut.probeHistory;
    steps.push(["probe_updates", () => pruneProbeHistoryWindow(db, c, n, nowMs), 4]);
  }
  const report: PruneReport = { tasks: 0, deliveries: 0, events: 0, probe_updates: 0, statements: 0 };
  let active = steps;
  while (active.length > 0) {
    const still: typeof steps = [];
    for (const step of active) {
      const [name, run, cost] = step;
      if (report.statements + cost > s.statementsPerRun) continue; // the settings' minimum fits one turn of each kind
      const r = await run();
      report[name] += r.deleted;
      report.statements += r.statements;
      if (r.more) still.push(step);
    }
    if (still.every(([, , cost]) => report.statements + cost > s.statementsPerRun)) return report;
    active = still;
  }
  return report;
}
