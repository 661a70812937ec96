import { events } from "../../schema/events";
import type { Db } from "../lib/hono";

export type NewEvent = {
  at: string;
  type: string;
  actor: string;
  jobId?: string | null;
  probeId?: string | null;
  taskId?: string | null;
  data?: Record<string, unknown>;
};

/** An insert into the append-only event history, to run inside the same `db.batch()` as the change it records. */
export function eventInsert(db: Db, e: NewEvent) {
  return db.insert(events).values({
    at: e.at,
    type: e.type,
    actor: e.actor,
    jobId: e.jobId ?? null,
    probeId: e.probeId ?? null,
    taskId: e.taskId ?? null,
    data: JSON.stringify(e.data ?? {}),
  });
}
