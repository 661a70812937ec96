import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const JOB_STATES = ["active", "paused", "deleted", "done"] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TASK_STATES = ["ready", "notified", "accepted", "rejected", "done", "expired", "failed"] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** A campaign (OONI's job): what to send (task or alert), to whom (target), when (schedule). */
export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    comment: text("comment").notNull(),
    /** The schedule exactly as the operator wrote it: ISO 8601 `R[n]/<start>/<period>` or 5-field cron (UTC). */
    schedule: text("schedule").notNull(),
    scheduleKind: text("schedule_kind", { enum: ["iso", "cron"] }).notNull(),
    /** Anchor of an ISO schedule (run k is at start + k·period); creation time for cron. */
    startAt: text("start_at").notNull(),
    /** Seconds: each probe's push is spread at random (deterministically per occurrence) over [0, delay). */
    delayS: integer("delay_s").notNull().default(0),
    kind: text("kind", { enum: ["task", "alert"] }).notNull(),
    testName: text("test_name"),
    /** JSON object. */
    arguments: text("arguments"),
    alertMessage: text("alert_message"),
    /** JSON object. */
    alertExtra: text("alert_extra"),
    /** JSON map of check-in feature flags for the probes this campaign targets (functions/ooni/features.ts); null = none. */
    features: text("features"),
    /** JSON: {countries, platforms, asns, network_types, software_names, supported_tests}; empty list = all. */
    target: text("target").notNull(),
    state: text("state", { enum: JOB_STATES }).notNull(),
    /** Max pushes per minute across the run; null = as fast as dispatch goes. */
    rolloutPerMinute: integer("rollout_per_minute"),
    startingDeadlineS: integer("starting_deadline_s").notNull(),
    taskTimeoutS: integer("task_timeout_s").notNull(),
    /** Runs fired so far (missed runs are not counted). */
    timesRun: integer("times_run").notNull().default(0),
    /** RFC 3339 with milliseconds (sortable as text); null when no run is left. */
    nextRunAt: text("next_run_at"),
    lastRunAt: text("last_run_at"),
    createdAt: text("created_at").notNull(),
    createdBy: text("created_by").notNull(),
    updatedAt: text("updated_at").notNull(),
    /** Idempotency-Key of the create request, scoped by creator; with the body hash to refuse a reused key. */
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
  },
  (t) => [index("jobs_due_idx").on(t.state, t.nextRunAt), uniqueIndex("jobs_idem_idx").on(t.createdBy, t.idempotencyKey)],
);

/** One row per run (fired, missed or skipped). The id is `<job id>:<scheduled ms>`: deterministic, so a re-fired cron adds nothing. */
export const jobRuns = sqliteTable(
  "job_runs",
  {
    id: text("id").primaryKey(),
    jobId: text("job_id").notNull(),
    runNo: integer("run_no"),
    scheduledAt: text("scheduled_at").notNull(),
    firedAt: text("fired_at"),
    /** dispatching (pages still being handed out) | dispatched | missed | cancelled */
    state: text("state", { enum: ["dispatching", "dispatched", "missed", "cancelled"] }).notNull(),
    targets: integer("targets").notNull().default(0),
    missedCount: integer("missed_count").notNull().default(0),
    finishedAt: text("finished_at"),
    /**
     * The run's tasks by current state. Kept by triggers on `tasks` (migrations/*_retention_seed.sql), in the same
     * transaction as every write that creates a task or changes its state, and never lowered by deleting a task:
     * the per-run figures survive the retention cron pruning old tasks (functions/retention/).
     */
    tasksReady: integer("tasks_ready").notNull().default(0),
    tasksNotified: integer("tasks_notified").notNull().default(0),
    tasksAccepted: integer("tasks_accepted").notNull().default(0),
    tasksRejected: integer("tasks_rejected").notNull().default(0),
    tasksDone: integer("tasks_done").notNull().default(0),
    tasksExpired: integer("tasks_expired").notNull().default(0),
    tasksFailed: integer("tasks_failed").notNull().default(0),
  },
  (t) => [index("job_runs_job_idx").on(t.jobId, t.scheduledAt)],
);

/**
 * A task handed to one probe for one run. The id is derived from the occurrence (job, run, probe) with a keyed
 * hash, so it is unguessable and a duplicate hand-off maps to the same row.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    jobId: text("job_id").notNull(),
    runId: text("run_id").notNull(),
    probeId: text("probe_id").notNull(),
    testName: text("test_name").notNull(),
    // No copy of the campaign's arguments: they are read from the job when the probe fetches the task.
    state: text("state", { enum: TASK_STATES }).notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    notifiedAt: text("notified_at"),
    fetchedAt: text("fetched_at"),
    acceptedAt: text("accepted_at"),
    doneAt: text("done_at"),
    expiresAt: text("expires_at").notNull(),
    /** JSON: what the probe reported on done (e.g. {"measurement_id": ...}). */
    result: text("result"),
    /** Why a task failed (the provider's answer). */
    error: text("error"),
  },
  (t) => [
    uniqueIndex("tasks_occurrence_idx").on(t.jobId, t.runId, t.probeId),
    index("tasks_probe_idx").on(t.probeId, t.createdAt),
    index("tasks_job_state_idx").on(t.jobId, t.state),
    // Per-run delivery counts on a campaign's page (runs × states) read only this index, not every task row.
    index("tasks_job_run_state_idx").on(t.jobId, t.runId, t.state),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
export type JobRunRow = typeof jobRuns.$inferSelect;
export type TaskRow = typeof tasks.$inferSelect;

/** The job_runs column counting a run's tasks in each state (kept by triggers, see jobRuns). */
export const RUN_COUNTER: Record<TaskState, keyof JobRunRow & `tasks${string}`> = {
  ready: "tasksReady",
  notified: "tasksNotified",
  accepted: "tasksAccepted",
  rejected: "tasksRejected",
  done: "tasksDone",
  expired: "tasksExpired",
  failed: "tasksFailed",
};
