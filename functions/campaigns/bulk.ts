import { getTableColumns, type SQL, sql } from "drizzle-orm";
import { type TaskState, tasks } from "../../schema/campaigns";
import { probes } from "../../schema/probes";
import { eventInsertSelect, type NewEvent, subjectOf } from "../events/store";
import type { Db } from "../lib/db";
import type { Occurrence, OccurrenceRow, ProbeInfo, Recorded } from "./delivery";
import { chunks } from "./shards";
import type { Stmt } from "./store";
import { TRANSITIONS, type TaskAction } from "./task-states";

// A shard's D1 writes and reads for many occurrences at once, each list travelling as ONE bound JSON parameter that
// json_each unpacks (as functions/lib/sql-lists.ts does for filters): production D1 refuses a statement with more
// than 100 bound parameters, and a multi-row VALUES list of tasks (9 columns) would reach it at 12 rows. Every
// statement here binds at most a handful of scalars plus its JSON lists, whatever the number of rows
// (test/campaigns/bulk.test.ts checks the bound on a 500-occurrence page). Lists are cut at ROWS_PER_STATEMENT so a
// statement's parameter stays far below D1's 2 MB per value and each statement stays short (D1: 30 s per query).

/** Rows one bulk statement carries. */
export const ROWS_PER_STATEMENT = 250;

const j = (path: string) => sql.raw(`json_extract(j.value, '$.${path}')`);

/** The SELECT list of an INSERT … SELECT into `table`: every column in table order, from `values` by name, else NULL. */
function columnsOf(table: typeof tasks, values: Partial<Record<string, SQL | string>>): SQL {
  const names = Object.keys(getTableColumns(table));
  for (const k of Object.keys(values)) if (!names.includes(k)) throw new Error(`no column ${k}`);
  return sql.join(
    names.map((k) => {
      const v = values[k];
      return v === undefined ? sql`NULL` : typeof v === "string" ? sql`${v}` : v;
    }),
    sql`, `,
  );
}

/**
 * Events, many per statement. `data` is stored as the JSON text its object serialises to, as eventInsert writes it.
 */
export function eventsInsert(db: Db, list: NewEvent[]): Stmt[] {
  return chunks(list, ROWS_PER_STATEMENT).map((part) => {
    const rows = part.map((e) => {
      const subject = subjectOf(e);
      return {
        at: e.at,
        type: e.type,
        actor: e.actor,
        sk: subject.kind,
        si: subject.id,
        job: e.jobId ?? null,
        probe: e.probeId ?? null,
        task: e.taskId ?? null,
        data: JSON.stringify(e.data ?? {}),
      };
    });
    return eventInsertSelect(
      db,
      {
        at: j("at"),
        type: j("type"),
        actor: j("actor"),
        subject: { kind: j("sk"), id: j("si") },
        jobId: j("job"),
        probeId: j("probe"),
        taskId: j("task"),
        data: j("data"),
      },
      sql`FROM json_each(${JSON.stringify(rows)}) j`,
    );
  });
}

/**
 * The tasks of handed-off occurrences, keyed by their derived ids, with task.created only for the rows that are new:
 * the event statement runs first and skips tasks that exist, then the insert ignores them. Both in the caller's
 * batch (one transaction), so a repeated hand-off writes nothing and records nothing.
 */
export function tasksCreated(db: Db, items: { o: Occurrence; taskId: string }[], at: string): Stmt[] {
  const seen = new Set<string>();
  const unique = items.filter((x) => !seen.has(x.taskId) && seen.add(x.taskId));
  return chunks(unique, ROWS_PER_STATEMENT).flatMap((part) => {
    const rows = JSON.stringify(
      part.map(({ o, taskId }) => ({
        id: taskId,
        job: o.jobId,
        run: o.runId,
        probe: o.probeId,
        test: o.testName,
        send: new Date(o.sendAtMs).toISOString(),
        expires: new Date(o.expireAtMs).toISOString(),
      })),
    );
    const values: Partial<Record<keyof typeof tasks.$inferInsert, SQL | string>> = {
      id: j("id"),
      jobId: j("job"),
      runId: j("run"),
      probeId: j("probe"),
      testName: sql`COALESCE(${j("test")}, '')`,
      state: "ready",
      createdAt: at,
      updatedAt: at,
      expiresAt: j("expires"),
    };
    return [
      eventInsertSelect(
        db,
        {
          at,
          type: "task.created",
          actor: "system",
          subject: { kind: "task", id: j("id") },
          jobId: j("job"),
          probeId: j("probe"),
          taskId: j("id"),
          data: sql`json_object('run_id', ${j("run")}, 'test_name', ${j("test")}, 'send_at', ${j("send")})`,
        },
        sql`FROM json_each(${rows}) j WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = ${j("id")})`,
      ),
      db
        .insert(tasks)
        .select(sql`SELECT ${columnsOf(tasks, values)} FROM json_each(${rows}) j WHERE true`)
        .onConflictDoNothing(),
    ];
  });
}

/**
 * One task transition for many tasks: the event for each task that is in a legal state (selected before the change),
 * then the guarded UPDATE, both in the caller's batch. A task already moved on changes nothing and records nothing.
 * Per task: the event's data, and for "fail" the error text.
 */
export function taskTransitions(
  db: Db,
  items: { taskId: string; data: Record<string, unknown>; error?: string }[],
  action: TaskAction,
  at: string,
  actor: string,
): Stmt[] {
  const t = TRANSITIONS[action];
  const type = { notify: "task.notified", accept: "task.accepted", reject: "task.rejected", done: "task.done", expire: "task.expired", fail: "task.failed" }[
    action
  ];
  const from = JSON.stringify(t.from as readonly TaskState[]);
  return chunks(items, ROWS_PER_STATEMENT).flatMap((part) => {
    const rows = JSON.stringify(part.map((x) => ({ id: x.taskId, data: x.data, error: x.error ?? null })));
    return [
      eventInsertSelect(
        db,
        { at, type, actor, subject: { kind: "task", id: sql`t.id` }, jobId: sql`t.job_id`, probeId: sql`t.probe_id`, taskId: sql`t.id`, data: j("data") },
        sql`FROM json_each(${rows}) j JOIN tasks t ON t.id = ${j("id")} WHERE t.state IN (SELECT value FROM json_each(${from}))`,
      ),
      db
        .update(tasks)
        .set({
          state: t.to,
          updatedAt: at,
          ...(action === "notify" ? { notifiedAt: at } : {}),
          ...(action === "fail" ? { error: sql`(SELECT ${j("error")} FROM json_each(${rows}) j WHERE ${j("id")} = ${tasks.id})` } : {}),
        })
        .where(sql`${tasks.id} IN (SELECT ${j("id")} FROM json_each(${rows}) j) AND ${tasks.state} IN (SELECT value FROM json_each(${from}))`),
    ];
  });
}

/** Tokens a provider judged dead: each marked expired only if the probe still has that token, with probe.token_expired. */
export function tokensExpired(db: Db, items: { probeId: string; token: string; provider: string; error: string }[], at: string): Stmt[] {
  return chunks(items, ROWS_PER_STATEMENT).flatMap((part) => {
    const rows = JSON.stringify(part.map((x) => ({ probe: x.probeId, token: x.token, provider: x.provider, error: x.error })));
    return [
      eventInsertSelect(
        db,
        {
          at,
          type: "probe.token_expired",
          actor: "system",
          subject: { kind: "probe", id: sql`p.id` },
          probeId: sql`p.id`,
          data: sql`json_object('provider', ${j("provider")}, 'error', ${j("error")})`,
        },
        sql`FROM json_each(${rows}) j JOIN probes p ON p.id = ${j("probe")} AND p.push_token = ${j("token")} AND p.push_token_state = 'valid'`,
      ),
      db
        .update(probes)
        .set({ pushTokenState: "expired", pushTokenUpdatedAt: at })
        .where(
          sql`${probes.pushTokenState} = 'valid' AND EXISTS (SELECT 1 FROM json_each(${rows}) j WHERE ${j("probe")} = ${probes.id} AND ${j("token")} = ${probes.pushToken})`,
        ),
    ];
  });
}

/** Many providers' answers in D1 (what deliveryRecorded in store.ts writes for one), in a bounded number of statements. */
export function deliveriesRecorded(db: Db, items: { row: OccurrenceRow; r: Recorded }[], at: string): Stmt[] {
  const events: NewEvent[] = [];
  const notified: { taskId: string; data: Record<string, unknown> }[] = [];
  const failed: { taskId: string; data: Record<string, unknown>; error: string }[] = [];
  const expired: { probeId: string; token: string; provider: string; error: string }[] = [];
  for (const { row, r } of items) {
    const base = { at, actor: "system", jobId: row.job_id, probeId: row.probe_id, taskId: row.task_id };
    const answer = { provider: r.result.provider, status: r.result.status, attempt: r.attempt, ...("error" in r.result ? { error: r.result.error } : {}) };
    const d = r.decision;
    if (d.action === "sent" || d.action === "accepted") {
      const messageId = r.result.outcome === "sent" ? r.result.providerMessageId : undefined;
      const type = d.action === "sent" ? "push.sent" : "push.accepted";
      events.push({ ...base, type, data: { ...answer, kind: row.kind, ...(messageId ? { provider_message_id: messageId } : {}) } });
      if (row.task_id) notified.push({ taskId: row.task_id, data: { provider: r.result.provider } });
    } else if (d.action === "retry") {
      events.push({ ...base, type: "push.retry", data: { ...answer, retry_at: new Date(d.atMs).toISOString() } });
    } else {
      const error = d.action === "failed" ? d.reason : "error" in r.result ? r.result.error : "";
      events.push({ ...base, type: "push.failed", data: { ...answer, token_expired: d.action === "token-expired" } });
      if (d.action === "token-expired") expired.push({ probeId: row.probe_id, token: r.token, provider: r.result.provider, error });
      if (row.task_id) failed.push({ taskId: row.task_id, data: { error: error.slice(0, 500) }, error: error.slice(0, 500) });
    }
  }
  return [
    ...eventsInsert(db, events),
    ...(notified.length ? taskTransitions(db, notified, "notify", at, "system") : []),
    ...(expired.length ? tokensExpired(db, expired, at) : []),
    ...(failed.length ? taskTransitions(db, failed, "fail", at, "system") : []),
  ];
}

/** Unanswered tasks whose timeout came: expired, many at once. */
export function tasksTimedOut(db: Db, taskIds: string[], at: string): Stmt[] {
  return taskIds.length
    ? taskTransitions(
        db,
        taskIds.map((taskId) => ({ taskId, data: { reason: "no answer within the task timeout" } })),
        "expire",
        at,
        "system",
      )
    : [];
}

/**
 * What a push depends on, for many occurrences in one round trip: each probe's token and platform (none: the probe is
 * gone), its job's and its task's state. Keyed by occurrence id.
 */
export async function probeInfos(db: Db, rows: Pick<OccurrenceRow, "id" | "probe_id" | "job_id" | "task_id">[]): Promise<Map<string, ProbeInfo>> {
  const out = new Map<string, ProbeInfo>();
  for (const part of chunks(rows, ROWS_PER_STATEMENT)) {
    const list = JSON.stringify(part.map((r) => ({ occ: r.id, probe: r.probe_id, job: r.job_id, task: r.task_id })));
    const found = await db.all<{ occ: string; token: string | null; tokenState: string; platform: string; jobState: string | null; taskState: string | null }>(
      sql`SELECT ${j("occ")} AS occ, p.push_token AS token, p.push_token_state AS tokenState, p.platform AS platform,
                 (SELECT state FROM jobs WHERE id = ${j("job")}) AS jobState, (SELECT state FROM tasks WHERE id = ${j("task")}) AS taskState
          FROM json_each(${list}) j JOIN probes p ON p.id = ${j("probe")}`,
    );
    for (const f of found) out.set(f.occ, { token: f.token, tokenState: f.tokenState, platform: f.platform, jobState: f.jobState, taskState: f.taskState });
  }
  return out;
}
