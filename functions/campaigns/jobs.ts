import { type SQL, sql } from "drizzle-orm";
import { type JobRow, type JobRunRow, jobRuns, RUN_COUNTER, TASK_STATES, type TaskState } from "../../schema/campaigns";
import type { JobBody } from "../../schema/campaigns-api";
import { ApiError } from "../lib/errors";
import { parseSchedule, type Schedule, ScheduleError, storedSchedule } from "./schedule";
import { normalizeTarget, type Target } from "./targeting";

/** Parse a job's schedule at creation; a bad schedule is the client's 400 with the parser's message. */
export function scheduleFromBody(source: string, nowMs: number): Schedule {
  try {
    return parseSchedule(source, nowMs);
  } catch (e) {
    if (e instanceof ScheduleError)
      throw new ApiError("validation_failed", `invalid request: schedule: ${e.message}`, [{ path: "schedule", message: e.message }]);
    throw e;
  }
}

/** OONI: when both are present, alert wins. */
export function jobKind(b: JobBody): "task" | "alert" {
  return b.alert ? "alert" : "task";
}

/** A run's tasks by state, from its counters (kept by triggers, so they survive the pruning of old tasks). */
export function runTaskCounts(r: Pick<JobRunRow, (typeof RUN_COUNTER)[TaskState]>): Record<TaskState, number> {
  return Object.fromEntries(TASK_STATES.map((s) => [s, r[RUN_COUNTER[s]]])) as Record<TaskState, number>;
}

/** SELECT columns summing the counters over runs (a campaign's task totals): `db.select(runCounterSums).from(jobRuns)`. */
export const runCounterSums = Object.fromEntries(
  TASK_STATES.map((s) => [RUN_COUNTER[s], sql<number>`coalesce(sum(${jobRuns[RUN_COUNTER[s]]}), 0)`.mapWith(Number).as(`sum_tasks_${s}`)]),
) as Record<(typeof RUN_COUNTER)[TaskState], SQL.Aliased<number>>;

/** A run as the API and the console show it. */
export function runView(r: JobRunRow) {
  return {
    id: r.id,
    run_no: r.runNo,
    scheduled_at: r.scheduledAt,
    fired_at: r.firedAt,
    state: r.state,
    targets: r.targets,
    missed_count: r.missedCount,
    finished_at: r.finishedAt,
    tasks: runTaskCounts(r),
  };
}

export function jobView(r: JobRow) {
  return {
    id: r.id,
    schedule: r.schedule,
    delay: r.delayS,
    comment: r.comment,
    task: r.kind === "task" ? { test_name: r.testName ?? "", arguments: JSON.parse(r.arguments ?? "{}") as Record<string, unknown> } : null,
    alert: r.kind === "alert" ? { message: r.alertMessage ?? "", extra: JSON.parse(r.alertExtra ?? "{}") as Record<string, unknown> } : null,
    target: normalizeTarget(JSON.parse(r.target) as Target),
    state: r.state,
    rollout_per_minute: r.rolloutPerMinute,
    starting_deadline_s: r.startingDeadlineS,
    task_timeout_s: r.taskTimeoutS,
    times_run: r.timesRun,
    next_run_at: r.nextRunAt,
    last_run_at: r.lastRunAt,
    creation_time: r.createdAt,
    created_by: r.createdBy,
    features: r.features ? (JSON.parse(r.features) as Record<string, boolean>) : null,
  };
}

/** SHA-256 hex of a canonical JSON text: a reused Idempotency-Key with a different body is refused. */
export async function requestHash(body: unknown): Promise<string> {
  const canon = JSON.stringify(body, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canon)));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

export type JobAction = "pause" | "resume";

/** A run as far as its open deliveries go. */
export type RunDeliveries = Pick<JobRunRow, "state" | "scheduledAt" | "tasksReady">;

/**
 * Whether a campaign may still have pushes to send, pure: a run is still being handed out, a task run has tasks
 * not yet pushed or answered (ready), or an alert run is within its delay and timeout (alerts keep no D1 rows).
 * A campaign that is done (no run left to fire) can be paused while this holds, which holds those pushes.
 */
export function hasOpenDeliveries(job: Pick<JobRow, "kind" | "delayS" | "taskTimeoutS">, runs: RunDeliveries[], nowMs: number): boolean {
  return runs.some(
    (r) =>
      r.state === "dispatching" ||
      (r.state === "dispatched" && (job.kind === "task" ? r.tasksReady > 0 : nowMs < Date.parse(r.scheduledAt) + (job.delayS + job.taskTimeoutS) * 1000)),
  );
}

/**
 * What pausing or resuming makes of a campaign, or why it cannot: an active campaign pauses, and so does a done one
 * while its runs have pushes to send (`openDeliveries`); only a paused one resumes. A resume skips the runs that fell due while it was paused: its next run is computed from now, and a
 * campaign with none left is done. `unchanged` when it already is in the wanted state.
 */
export function stateAfter(
  action: JobAction,
  job: Pick<JobRow, "state" | "schedule" | "startAt" | "nextRunAt">,
  nowMs: number,
  openDeliveries = false,
): { unchanged: true; state: JobRow["state"] } | { unchanged: false; state: JobRow["state"]; nextRunAt: string | null } {
  const want = action === "pause" ? "paused" : "active";
  if (job.state === want) return { unchanged: true, state: want };
  const from = action === "pause" ? (job.state === "done" && openDeliveries ? "done" : "active") : "paused";
  if (job.state !== from) throw new ApiError("illegal_transition", `a ${job.state} campaign cannot be ${action}d`);
  if (action === "pause") return { unchanged: false, state: "paused", nextRunAt: job.nextRunAt };
  const s = storedSchedule(job.schedule, Date.parse(job.startAt)).slotAtOrAfter(nowMs);
  return s ? { unchanged: false, state: "active", nextRunAt: new Date(s.at).toISOString() } : { unchanged: false, state: "done", nextRunAt: null };
}
