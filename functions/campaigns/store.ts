import { and, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type JobRow, jobRuns, jobs, tasks } from "../../schema/campaigns";
import { probes } from "../../schema/probes";
import type { JobBody } from "../../schema/campaigns-api";
import { auditInsert } from "../audit/store";
import { eventInsert, type NewEvent } from "../events/store";
import { isUniqueViolation, type Db } from "../lib/db";
import { ApiError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { Occurrence, OccurrenceRow, ProbeInfo, Recorded } from "./delivery";
import type { RunRow } from "./fanout";
import { runId } from "./ids";
import { jobKind } from "./jobs";
import type { DuePlan, Schedule } from "./schedule";
import { normalizeTarget } from "./targeting";
import { changesOf, eventIfChanged, taskTransition } from "./task-store";

// Campaign writes. Each change is one atomic db.batch() with the event that records it; state changes are guarded
// by the state they were decided from, and report whether they changed the row, so a lost race records nothing.

const iso = (ms: number) => new Date(ms).toISOString();

export type NewJob = {
  body: JobBody;
  schedule: Schedule;
  /** The first run's time. */
  firstAtMs: number;
  at: string;
  /** The operator's username, and how the event names them. */
  createdBy: string;
  actor: string;
  idempotencyKey: string | null;
  requestHash: string | null;
};

/** The job an operator already created with this Idempotency-Key, or null; the same key with another body is a 409. */
async function replay(db: Db, j: NewJob): Promise<string | null> {
  if (!j.idempotencyKey) return null;
  const hit = await db
    .select({ id: jobs.id, requestHash: jobs.requestHash })
    .from(jobs)
    .where(and(eq(jobs.createdBy, j.createdBy), eq(jobs.idempotencyKey, j.idempotencyKey)))
    .get();
  if (hit && hit.requestHash !== j.requestHash) throw new ApiError("conflict", "this Idempotency-Key was already used with a different request body");
  return hit?.id ?? null;
}

/** Create a campaign with its job.created event; a retried create with the same key returns the first one's id. */
export async function createJob(db: Db, j: NewJob): Promise<string> {
  const earlier = await replay(db, j);
  if (earlier) return earlier;
  const { body, schedule, at } = j;
  const id = newId();
  const kind = jobKind(body);
  const target = normalizeTarget(body.target);
  const next = iso(j.firstAtMs);
  try {
    await db.batch([
      db.insert(jobs).values({
        id,
        comment: body.comment,
        schedule: body.schedule,
        scheduleKind: schedule.kind,
        startAt: iso(schedule.startMs),
        delayS: body.delay,
        kind,
        testName: kind === "task" ? (body.task?.test_name ?? null) : null,
        arguments: kind === "task" ? JSON.stringify(body.task?.arguments ?? {}) : null,
        alertMessage: kind === "alert" ? (body.alert?.message ?? null) : null,
        alertExtra: kind === "alert" ? JSON.stringify(body.alert?.extra ?? {}) : null,
        features: body.features ? JSON.stringify(body.features) : null,
        target: JSON.stringify(target),
        state: "active",
        rolloutPerMinute: body.rollout_per_minute ?? null,
        startingDeadlineS: body.starting_deadline_s,
        taskTimeoutS: body.task_timeout_s,
        timesRun: 0,
        nextRunAt: next,
        createdAt: at,
        createdBy: j.createdBy,
        updatedAt: at,
        idempotencyKey: j.idempotencyKey,
        requestHash: j.requestHash,
      }),
      eventInsert(db, {
        at,
        type: "job.created",
        actor: j.actor,
        jobId: id,
        data: { schedule: body.schedule, kind, target, comment: body.comment, next_run_at: next, idempotency_key: j.idempotencyKey },
      }),
      auditInsert(db, { at, action: "job.created", actor: j.actor, subject: { kind: "job", id }, data: { schedule: body.schedule, kind, target } }),
    ]);
  } catch (e) {
    // Two concurrent creates with one key: the unique index picks the winner, the other replays it.
    if (j.idempotencyKey && isUniqueViolation(e)) {
      const winner = await replay(db, j);
      if (winner) return winner;
    }
    throw e;
  }
  return id;
}

/** The job row moves from the state it was read in, or nothing happens. */
const fromState = (job: JobRow) => and(eq(jobs.id, job.id), eq(jobs.state, job.state));

/** A state change as the store reports it: whether this call changed the row (false = someone else got there first). */
export type StateChange = { changed: boolean };

/** Set a job's state (and next run) from the state it was read in, with its event only if the row changed. */
export async function changeJobState(
  db: Db,
  job: JobRow,
  to: { state: JobRow["state"]; nextRunAt: string | null },
  e: { at: string; type: string; actor: string; data: Record<string, unknown> },
): Promise<StateChange> {
  const [upd] = await db.batch([
    db.update(jobs).set({ state: to.state, nextRunAt: to.nextRunAt, updatedAt: e.at }).where(fromState(job)),
    eventIfChanged(db, { at: e.at, type: e.type, actor: e.actor, jobId: job.id, data: e.data }),
    // Right after the guarded event: changes() is then 1 only if that event (so the change) was written.
    auditInsert(db, { at: e.at, action: e.type, actor: e.actor, subject: { kind: "job", id: job.id }, data: e.data }, sql`changes() = 1`),
  ]);
  return { changed: changesOf(upd) > 0 };
}

/**
 * Delete a campaign: no run fires afterwards and its unanswered tasks expire, with the job.deleted event; all only
 * if the job was still in the state it was read in.
 */
export async function deleteJob(db: Db, job: JobRow, at: string, actor: string): Promise<StateChange> {
  const [upd] = await db.batch([
    db.update(jobs).set({ state: "deleted", nextRunAt: null, updatedAt: at }).where(fromState(job)),
    eventIfChanged(db, { at, type: "job.deleted", actor, jobId: job.id, data: { previous_state: job.state } }),
    auditInsert(db, { at, action: "job.deleted", actor, subject: { kind: "job", id: job.id }, data: { previous_state: job.state } }, sql`changes() = 1`),
    db
      .update(tasks)
      .set({ state: "expired", updatedAt: at, error: "campaign deleted" })
      .where(
        and(
          eq(tasks.jobId, job.id),
          inArray(tasks.state, ["ready", "notified"]),
          sql`EXISTS (SELECT 1 FROM ${jobs} WHERE ${jobs.id} = ${job.id} AND ${jobs.state} = 'deleted')`,
        ),
      ),
  ]);
  return { changed: changesOf(upd) > 0 };
}

/** One statement of a D1 batch. */
export type Stmt = BatchItem<"sqlite">;

/** Run statements as one atomic batch (nothing to do for none). */
export async function runBatch(db: Db, stmts: Stmt[]): Promise<void> {
  if (stmts.length === 0) return;
  await db.batch(stmts as [Stmt, ...Stmt[]]);
}

/**
 * The task of a handed-off occurrence, keyed by its derived id and unique per occurrence, with task.created only
 * when the row is new: a repeat after a lost reply is a no-op.
 */
export function taskCreated(db: Db, o: Occurrence, taskId: string, at: string): Stmt[] {
  return [
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
  ];
}

/** Task timeout: an unanswered task expires. A task already answered is left alone (the guard finds no row). */
export function taskTimedOut(db: Db, taskId: string, at: string): Stmt[] {
  return [...taskTransition(db, taskId, "expire", at, "system", {}, { reason: "no answer within the task timeout" })];
}

/** The probe's push target and what its push depends on (its job's and task's state), or undefined if it is gone. */
export async function probeInfo(db: Db, row: Pick<OccurrenceRow, "probe_id" | "job_id" | "task_id">): Promise<ProbeInfo | undefined> {
  return db
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
}

/** A provider's answer in D1: the task's state, the token's state, and the delivery events. */
export function deliveryRecorded(db: Db, row: OccurrenceRow, r: Recorded, at: string): Stmt[] {
  const base = { actor: "system", jobId: row.job_id, probeId: row.probe_id, taskId: row.task_id };
  const answer = { provider: r.result.provider, status: r.result.status, attempt: r.attempt, ...("error" in r.result ? { error: r.result.error } : {}) };
  const d = r.decision;
  const stmts: Stmt[] = [];
  if (d.action === "sent" || d.action === "accepted") {
    // "accepted": a gateway queued it and will say no more (gorush without core.sync): logged apart, not a delivery.
    const messageId = r.result.outcome === "sent" ? r.result.providerMessageId : undefined;
    const type = d.action === "sent" ? "push.sent" : "push.accepted";
    stmts.push(eventInsert(db, { ...base, at, type, data: { ...answer, kind: row.kind, ...(messageId ? { provider_message_id: messageId } : {}) } }));
    if (row.task_id) stmts.push(...taskTransition(db, row.task_id, "notify", at, "system", { notifiedAt: at }, { provider: r.result.provider }));
  } else if (d.action === "retry") {
    stmts.push(eventInsert(db, { ...base, at, type: "push.retry", data: { ...answer, retry_at: new Date(d.atMs).toISOString() } }));
  } else {
    const error = d.action === "failed" ? d.reason : "error" in r.result ? r.result.error : "";
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
  return stmts;
}

/** A delivery event on its own (skipped, deferred), as a batch. */
export function deliveryEvent(db: Db, e: NewEvent): Stmt[] {
  return [eventInsert(db, e)];
}

/**
 * A due campaign's tick in D1, from its due plan: the job's next run (guarded by the next run it was read with, so
 * a repeated tick changes nothing), the missed runs as one record, the fired run and the job's end.
 */
export function runsFired(db: Db, job: JobRow, plan: DuePlan, fired: string | null, at: string): Stmt[] {
  const base = { at, actor: "system", jobId: job.id };
  const timesRun = job.timesRun + (plan.fire ? 1 : 0);
  const stmts: Stmt[] = [
    db
      .update(jobs)
      .set({
        nextRunAt: plan.next ? iso(plan.next.at) : null,
        state: plan.next ? "active" : "done",
        timesRun,
        lastRunAt: plan.fire ? iso(plan.fire.at) : job.lastRunAt,
        updatedAt: at,
      })
      .where(and(eq(jobs.id, job.id), job.nextRunAt === null ? sql`${jobs.nextRunAt} IS NULL` : eq(jobs.nextRunAt, job.nextRunAt), eq(jobs.state, "active"))),
  ];
  const { count, capped, first, last } = plan.missed;
  if (count > 0 && first !== null && last !== null) {
    stmts.push(
      db
        .insert(jobRuns)
        .values({ id: runId(job.id, last), jobId: job.id, runNo: null, scheduledAt: iso(last), state: "missed", missedCount: count, finishedAt: at })
        .onConflictDoNothing(),
      eventInsert(db, {
        ...base,
        type: "run.missed",
        data: { count, capped, first: iso(first), last: iso(last), starting_deadline_s: job.startingDeadlineS },
      }),
    );
  }
  if (plan.fire && fired) {
    stmts.push(
      db
        .insert(jobRuns)
        .values({ id: fired, jobId: job.id, runNo: job.timesRun + 1, scheduledAt: iso(plan.fire.at), firedAt: at, state: "dispatching" })
        .onConflictDoNothing(),
      eventInsert(db, { ...base, type: "run.started", data: { run_id: fired, run_no: job.timesRun + 1, scheduled_at: iso(plan.fire.at) } }),
    );
  }
  if (!plan.next) stmts.push(eventInsert(db, { ...base, type: "job.done", data: { times_run: timesRun } }));
  return stmts;
}

/**
 * Runs stopped while being handed out (the campaign was deleted). The cancel wins over a page that finished meanwhile
 * (the runner had the run as paging when the cancel came), so a dispatched run is cancelled too; a repeat changes
 * nothing and records nothing.
 */
export function runsCancelled(db: Db, runs: Pick<RunRow, "run_id" | "job_id" | "handed">[], at: string): Stmt[] {
  return runs.flatMap((r) => [
    db
      .update(jobRuns)
      .set({ state: "cancelled", targets: r.handed, finishedAt: at })
      .where(and(eq(jobRuns.id, r.run_id), inArray(jobRuns.state, ["dispatching", "dispatched"]))),
    eventIfChanged(db, { at, type: "run.cancelled", actor: "system", jobId: r.job_id, data: { run_id: r.run_id, handed_out: r.handed } }),
  ]);
}

/** Every target of a run has been handed out: only from dispatching, so it never overwrites a cancel; once. */
export function runDispatched(db: Db, jobId: string, runIdValue: string, targets: number, at: string): Stmt[] {
  return [
    db
      .update(jobRuns)
      .set({ state: "dispatched", targets, finishedAt: at })
      .where(and(eq(jobRuns.id, runIdValue), eq(jobRuns.state, "dispatching"))),
    eventIfChanged(db, { at, type: "run.dispatched", actor: "system", jobId, data: { run_id: runIdValue, targets } }),
  ];
}

/** How many targets a run being handed out has reached so far. */
export function runProgress(db: Db, runIdValue: string, targets: number): Stmt[] {
  return [
    db
      .update(jobRuns)
      .set({ targets })
      .where(and(eq(jobRuns.id, runIdValue), eq(jobRuns.state, "dispatching"))),
  ];
}

/** Whether a run was committed to D1 (its fire reached the database). */
export async function runCommitted(db: Db, runIdValue: string): Promise<boolean> {
  return (await db.select({ id: jobRuns.id }).from(jobRuns).where(eq(jobRuns.id, runIdValue)).get()) !== undefined;
}

/** A provider's throttling slowed a run down. */
export function runThrottled(
  db: Db,
  jobId: string,
  runIdValue: string,
  at: string,
  d: { to: number | null; from: number | null; retryAfterMs?: number },
): Stmt[] {
  return [
    eventInsert(db, {
      at,
      type: "run.throttled",
      actor: "system",
      jobId,
      data: { run_id: runIdValue, rate_per_minute: d.to, was: d.from, retry_after_ms: d.retryAfterMs ?? null },
    }),
  ];
}
