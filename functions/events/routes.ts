import { createRoute } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, gte, like, lt, type SQL } from "drizzle-orm";
import { events } from "../../schema/events";
import { EventList, EventQuery } from "../../schema/events-api";
import { requireOperator } from "../auth/middleware";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";

export const eventRoutes = newRouter();

export function eventFilter(q: EventQuery): SQL[] {
  const conds: SQL[] = [];
  if (q.job_id) conds.push(eq(events.jobId, q.job_id));
  if (q.probe_id) conds.push(eq(events.probeId, q.probe_id));
  if (q.task_id) conds.push(eq(events.taskId, q.task_id));
  if (q.type) conds.push(q.type.endsWith("*") ? like(events.type, `${q.type.slice(0, -1).replace(/\*/g, "")}%`) : eq(events.type, q.type));
  if (q.since) conds.push(gte(events.at, new Date(q.since).toISOString()));
  if (q.until) conds.push(lt(events.at, new Date(q.until).toISOString()));
  return conds;
}

eventRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/events",
    tags: ["events"],
    summary: "The event history, filtered by job, probe, task, type and time; newest first unless order=asc",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { query: EventQuery },
    responses: { 200: jsonContent(EventList, "A page of events"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const conds = eventFilter(q);
    if (q.cursor) {
      const [id] = decodeCursor(q.cursor, 1) as [number];
      conds.push(q.order === "asc" ? gt(events.id, id) : lt(events.id, id));
    }
    const rows = await c.var.services.db
      .select()
      .from(events)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(q.order === "asc" ? asc(events.id) : desc(events.id))
      .limit(q.limit + 1)
      .all();
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        events: page.map((e) => ({
          id: e.id,
          at: e.at,
          type: e.type,
          actor: e.actor,
          job_id: e.jobId,
          probe_id: e.probeId,
          task_id: e.taskId,
          data: JSON.parse(e.data) as Record<string, unknown>,
        })),
        next_cursor: more ? encodeCursor([page[page.length - 1].id]) : null,
      },
      200,
    );
  },
);
