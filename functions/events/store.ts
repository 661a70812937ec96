import { getTableColumns, type SQL, sql } from "drizzle-orm";
import { events } from "../../schema/events";
import type { Db } from "../lib/db";

/** What an event is about. Each surface names its own kinds; ids are that kind's own ids. */
export type SubjectKind =
  | "system"
  | "probe"
  | "job"
  | "task"
  | "minion"
  | "operator"
  | "school_user"
  | "machine"
  | "lease"
  | "delegation"
  | "mesh_group"
  | "mesh_member";
export type EventSubject = { kind: SubjectKind; id: string };

export type NewEvent = {
  at: string;
  /** Dotted, surface first: `probe.updated`, `task.accepted`, `lease.issued`, `mesh.member.admitted`. */
  type: string;
  /** Who caused it: "operator:<username>", "probe:<id>", "system". */
  actor: string;
  /** What it is about; without one, the most specific cross-reference given (task, probe, job), else "system". */
  subject?: EventSubject;
  jobId?: string | null;
  probeId?: string | null;
  taskId?: string | null;
  data?: Record<string, unknown>;
};

/** An event's subject: as given, else its task, probe or job, else the system. */
export function subjectOf(e: Pick<NewEvent, "subject" | "taskId" | "probeId" | "jobId">): EventSubject {
  if (e.subject) return e.subject;
  if (e.taskId) return { kind: "task", id: e.taskId };
  if (e.probeId) return { kind: "probe", id: e.probeId };
  if (e.jobId) return { kind: "job", id: e.jobId };
  return { kind: "system", id: "" };
}

/**
 * The one way to write an event: an insert into the append-only history, to run inside the same `db.batch()`
 * as the change it records (so the change and its event commit together or not at all).
 */
export function eventInsert(db: Db, e: NewEvent) {
  const subject = subjectOf(e);
  return db.insert(events).values({
    at: e.at,
    type: e.type,
    actor: e.actor,
    subjectKind: subject.kind,
    subjectId: subject.id,
    jobId: e.jobId ?? null,
    probeId: e.probeId ?? null,
    taskId: e.taskId ?? null,
    data: JSON.stringify(e.data ?? {}),
  });
}

/** Writes one event on its own (when there is no change to batch it with). */
export async function recordEvent(db: Db, e: NewEvent): Promise<void> {
  await eventInsert(db, e);
}

type Value = string | null | SQL;
/** An event whose values may be SQL expressions over the rows a trailing `FROM … WHERE …` selects. */
export type EventSelect = {
  at: Value;
  type: Value;
  actor: Value;
  /** The kind is a SubjectKind, or an expression yielding one (bulk inserts of mixed events). */
  subject: { kind: SubjectKind | SQL; id: Value };
  jobId?: Value;
  probeId?: Value;
  taskId?: Value;
  /** A SQL expression yielding JSON text, or a plain object. */
  data?: SQL | Record<string, unknown>;
};

/**
 * An event inserted only for the rows `tail` selects (`FROM … WHERE …`, or `WHERE changes() = 1` to record only
 * when the statement before it in the batch changed a row). Columns are named, so a new column in `events`
 * cannot silently shift these values.
 */
export function eventInsertSelect(db: Db, e: EventSelect, tail: SQL) {
  const data = e.data === undefined ? "{}" : isSql(e.data) ? e.data : JSON.stringify(e.data);
  const named: Record<string, Value | undefined> = {
    id: null,
    at: e.at,
    type: e.type,
    actor: e.actor,
    subjectKind: e.subject.kind,
    subjectId: e.subject.id,
    jobId: e.jobId,
    probeId: e.probeId,
    taskId: e.taskId,
    data,
  };
  // drizzle's INSERT … SELECT lists every column in table order; the values are laid out from their names.
  const values = Object.keys(getTableColumns(events)).map((k) => {
    if (!(k in named)) throw new Error(`eventInsertSelect: no value for events.${k}`);
    const v = named[k];
    return v === undefined || v === null ? sql`NULL` : v;
  });
  return db.insert(events).select(sql`SELECT ${sql.join(values, sql`, `)} ${tail}`);
}

function isSql(x: unknown): x is SQL {
  return typeof x === "object" && x !== null && typeof (x as SQL).getSQL === "function";
}
