import { and, eq, inArray, sql } from "drizzle-orm";
import { tasks, type TaskState } from "../../schema/campaigns";
import { eventInsertSelect, type NewEvent } from "../events/store";
import type { Db } from "../lib/db";
import { TRANSITIONS, type TaskAction } from "./task-states";

const EVENT_TYPE: Record<TaskAction, string> = {
  notify: "task.notified",
  accept: "task.accepted",
  reject: "task.rejected",
  done: "task.done",
  expire: "task.expired",
  fail: "task.failed",
};

type TaskTimes = Partial<Pick<typeof tasks.$inferInsert, "notifiedAt" | "acceptedAt" | "doneAt" | "fetchedAt" | "result" | "error">>;

/**
 * One task transition as two statements for a `db.batch()`: the guarded UPDATE (only from a legal state) and the
 * event, inserted only when that UPDATE changed the row (`changes() = 1`, evaluated in the same transaction). A
 * concurrent or repeated transition therefore changes nothing and records nothing.
 */
export function taskTransition(db: Db, taskId: string, action: TaskAction, at: string, actor: string, set: TaskTimes = {}, data: Record<string, unknown> = {}) {
  const t = TRANSITIONS[action];
  return [
    db
      .update(tasks)
      .set({ state: t.to, updatedAt: at, ...set })
      .where(and(eq(tasks.id, taskId), inArray(tasks.state, t.from as TaskState[]))),
    eventInsertSelect(
      db,
      {
        at,
        type: EVENT_TYPE[action],
        actor,
        subject: { kind: "task", id: sql`id` },
        jobId: sql`job_id`,
        probeId: sql`probe_id`,
        taskId: sql`id`,
        data,
      },
      sql`FROM tasks WHERE id = ${taskId} AND changes() = 1`,
    ),
  ] as const;
}

/**
 * Rows changed by a D1 statement result inside a batch (drizzle hands back the D1Result). D1 includes the rows
 * triggers change (a task's state change also moves its run's counter, migrations/*_retention_seed.sql), so compare
 * with 0, not 1. SQL's own `changes()`, used by the guarded event inserts, counts the statement's rows only.
 */
export function changesOf(r: unknown): number {
  return (r as { meta?: { changes?: number } })?.meta?.changes ?? 0;
}

/**
 * An event inserted only if the statement just before it in the batch changed exactly one row. Columns in the
 * events table's order: id (NULL = next), at, type, actor, job_id, probe_id, task_id, data.
 */
export function eventIfChanged(db: Db, e: NewEvent) {
  return eventInsertSelect(
    db,
    {
      at: e.at,
      type: e.type,
      actor: e.actor,
      subject: e.subject ?? (e.taskId ? { kind: "task", id: e.taskId } : e.probeId ? { kind: "probe", id: e.probeId } : { kind: "job", id: e.jobId ?? "" }),
      jobId: e.jobId ?? null,
      probeId: e.probeId ?? null,
      taskId: e.taskId ?? null,
      data: e.data ?? {},
    },
    sql`WHERE changes() = 1`,
  );
}
