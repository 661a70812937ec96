import { and, eq, inArray, sql } from "drizzle-orm";
import { type JobRow, jobs, tasks } from "../../schema/campaigns";
import type { JobBody } from "../../schema/campaigns-api";
import { eventInsert } from "../events/store";
import { isUniqueViolation, type Db } from "../lib/db";
import { ApiError } from "../lib/errors";
import { newId } from "../lib/ids";
import { jobKind } from "./jobs";
import type { Schedule } from "./schedule";
import { normalizeTarget } from "./targeting";
import { changesOf, eventIfChanged } from "./task-store";

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
