import { and, asc, desc, eq, gt, gte, lt, type SQL } from "drizzle-orm";
import { events } from "../../schema/events";
import type { EventQuery } from "../../schema/events-api";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import type { Db } from "../lib/db";
import { startsWith } from "../lib/sql-lists";

// Event-history reads shared by the admin API (functions/events/routes.ts) and the console.

export function eventFilter(q: EventQuery): SQL[] {
  const conds: SQL[] = [];
  if (q.job_id) conds.push(eq(events.jobId, q.job_id));
  if (q.probe_id) conds.push(eq(events.probeId, q.probe_id));
  if (q.task_id) conds.push(eq(events.taskId, q.task_id));
  if (q.subject_kind) conds.push(eq(events.subjectKind, q.subject_kind));
  if (q.subject_id) conds.push(eq(events.subjectId, q.subject_id));
  // A prefix (`task.*`) is a range on the type index, not a LIKE: D1 caps LIKE patterns at 50 bytes, and LIKE would
  // read `_` as a wildcard.
  if (q.type) conds.push(q.type.endsWith("*") ? startsWith(events.type, q.type.slice(0, -1).replace(/\*/g, "")) : eq(events.type, q.type));
  if (q.since) conds.push(gte(events.at, new Date(q.since).toISOString()));
  if (q.until) conds.push(lt(events.at, new Date(q.until).toISOString()));
  return conds;
}

export type EventView = {
  id: number;
  at: string;
  type: string;
  actor: string;
  job_id: string | null;
  probe_id: string | null;
  task_id: string | null;
  subject: { kind: string; id: string };
  data: Record<string, unknown>;
};

/** One page of events (newest first unless order=asc), keyset-paginated on the monotonic id. */
export async function listEvents(db: Db, q: EventQuery): Promise<{ events: EventView[]; next_cursor: string | null }> {
  const conds = eventFilter(q);
  if (q.cursor) {
    const [id] = decodeCursor(q.cursor, 1) as [number];
    conds.push(q.order === "asc" ? gt(events.id, id) : lt(events.id, id));
  }
  const rows = await db
    .select()
    .from(events)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(q.order === "asc" ? asc(events.id) : desc(events.id))
    .limit(q.limit + 1)
    .all();
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  return {
    events: page.map((e) => ({
      id: e.id,
      at: e.at,
      type: e.type,
      actor: e.actor,
      job_id: e.jobId,
      probe_id: e.probeId,
      task_id: e.taskId,
      subject: { kind: e.subjectKind, id: e.subjectId },
      data: JSON.parse(e.data) as Record<string, unknown>,
    })),
    next_cursor: more ? encodeCursor([page[page.length - 1].id]) : null,
  };
}
