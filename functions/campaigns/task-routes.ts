import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, asc, eq, getTableColumns, gte, inArray } from "drizzle-orm";
import { jobs, tasks, type TaskRow } from "../../schema/campaigns";
import {
  JobStatus,
  PingbackActionParam,
  PingbackAlert,
  PingbackParam,
  PingbackTask,
  Task,
  TaskDoneBody,
  TaskIdParam,
  TaskList,
  TasksQuery,
} from "../../schema/campaigns-api";
import { principal, requireProbe } from "../auth/middleware";
import { eventInsert } from "../events/store";
import { ApiError } from "../lib/errors";
import { type AppEnv, newRouter, parseJsonText } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { pingbackUrl, verifyPingback } from "./pingback";
import { canTransition, OPEN_STATES, TRANSITIONS } from "./task-states";
import { changesOf, taskTransition } from "./task-store";

export const taskRoutes = newRouter();

type ProbeAction = "accept" | "reject" | "done";

/** A task with its campaign's arguments: a task keeps no copy of them (jobs never change their task definition). */
type TaskWithArgs = TaskRow & { jobArguments: string | null };

const withArguments = { ...getTableColumns(tasks), jobArguments: jobs.arguments };

const taskView = (t: TaskWithArgs) => ({
  id: t.id,
  test_name: t.testName,
  arguments: JSON.parse(t.jobArguments ?? "{}") as Record<string, unknown>,
  state: t.state,
  creation_time: t.createdAt,
});

async function ownTask(c: Context<AppEnv>, taskId: string, probeId: string): Promise<TaskWithArgs> {
  const t = await c.var.services.db.select(withArguments).from(tasks).leftJoin(jobs, eq(jobs.id, tasks.jobId)).where(eq(tasks.id, taskId.toLowerCase())).get();
  if (!t) throw new ApiError("not_found", "task not found");
  if (t.probeId !== probeId) throw new ApiError("forbidden", "this task belongs to another probe");
  return t;
}

/** accept / reject / done, from the probe's token or from its pingback link: one path, one state machine. */
async function answer(c: Context<AppEnv>, task: TaskRow, action: ProbeAction, result?: Record<string, unknown>) {
  if (!canTransition(task.state, action))
    throw new ApiError("illegal_transition", `task is ${task.state}: it cannot be ${action === "done" ? "completed" : `${action}ed`}`);
  const { db, clock, commit } = c.var.services;
  const at = clock.now().toISOString();
  const set = action === "accept" ? { acceptedAt: at } : action === "done" ? { doneAt: at, result: result ? JSON.stringify(result) : null } : { doneAt: at };
  const [upd] = await commit(taskTransition(db, task.id, action, at, `probe:${task.probeId}`, set, result ? { result } : {}));
  // D1 counts the run counter the tasks trigger moves as a change too (0 or 2 here), so test for "none".
  if (changesOf(upd) === 0) {
    // Someone else moved the task between our read and our write.
    const now = await db.select({ state: tasks.state }).from(tasks).where(eq(tasks.id, task.id)).get();
    throw new ApiError("illegal_transition", `task is ${now?.state ?? "gone"}: it cannot be ${action}ed`);
  }
  return { status: TRANSITIONS[action].to };
}

taskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/tasks",
    tags: ["tasks"],
    summary: "A probe's open tasks (ready or notified), for probes that missed a push",
    security: [{ bearer: [] }],
    middleware: [requireProbe] as const,
    request: { query: TasksQuery },
    responses: { 200: jsonContent(TaskList, "Open tasks, oldest first"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { since } = c.req.valid("query");
    const me = principal(c);
    const conds = [eq(tasks.probeId, me.sub), inArray(tasks.state, [...OPEN_STATES])];
    if (since) conds.push(gte(tasks.createdAt, new Date(since).toISOString()));
    const rows = await c.var.services.db
      .select(withArguments)
      .from(tasks)
      .leftJoin(jobs, eq(jobs.id, tasks.jobId))
      .where(and(...conds))
      .orderBy(asc(tasks.createdAt))
      .limit(500)
      .all();
    return c.json({ tasks: rows.map(taskView) }, 200);
  },
);

taskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/task/{task_id}",
    tags: ["tasks"],
    summary: "One of the probe's tasks",
    security: [{ bearer: [] }],
    middleware: [requireProbe] as const,
    request: { params: TaskIdParam },
    responses: { 200: jsonContent(Task, "The task"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => c.json(taskView(await ownTask(c, c.req.valid("param").task_id, principal(c).sub)), 200),
);

for (const action of ["accept", "reject", "done"] as const) {
  taskRoutes.openapi(
    createRoute({
      method: "post",
      path: `/api/v1/task/{task_id}/${action}`,
      tags: ["tasks"],
      summary: `${action === "done" ? "Complete" : action === "accept" ? "Accept" : "Reject"} a task${action === "done" ? " (optionally with a result reference)" : ""}`,
      security: [{ bearer: [] }],
      middleware: [requireProbe] as const,
      request: { params: TaskIdParam, body: { required: false, content: { "application/json": { schema: TaskDoneBody } } } },
      responses: { 200: jsonContent(JobStatus, "The task's new state"), ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const task = await ownTask(c, c.req.valid("param").task_id, principal(c).sub);
      const body = await optionalBody(c);
      return c.json(await answer(c, task, action, action === "done" ? body.result : undefined), 200);
    },
  );
}

/** The done body is optional: an empty body is fine, a non-empty one must be valid. */
async function optionalBody(c: Context<AppEnv>): Promise<{ result?: Record<string, unknown> }> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  return parseJsonText(text, TaskDoneBody) as { result?: Record<string, unknown> };
}

taskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/pingback/{token}",
    tags: ["tasks"],
    summary: "Follow a push's pingback link: the task (with its accept/reject/done links) or the alert",
    description: "The signed, short-lived link is the credential. Tampered → 401, expired → 410.",
    request: { params: PingbackParam },
    responses: {
      200: jsonContent(PingbackTask.or(PingbackAlert), "The task or alert"),
      ...errorResponses(400, 401, 404, 410, 503),
    },
  }),
  async (c) => {
    const { token } = c.req.valid("param");
    const { db, clock, settings, commit } = c.var.services;
    const claims = await verifyPingback(token, settings.jwtSecret, clock);
    const at = clock.now().toISOString();
    c.header("Cache-Control", "no-store");
    if (claims.kind === "alert") {
      const job = await db.select().from(jobs).where(eq(jobs.id, claims.jobId)).get();
      if (job?.kind !== "alert") throw new ApiError("not_found", "alert not found");
      await commit([eventInsert(db, { at, type: "alert.fetched", actor: `probe:${claims.probeId}`, jobId: job.id, probeId: claims.probeId })]);
      return c.json(
        { type: "alert" as const, job_id: job.id, message: job.alertMessage ?? "", extra: JSON.parse(job.alertExtra ?? "{}") as Record<string, unknown> },
        200,
      );
    }
    const task = await db.select(withArguments).from(tasks).leftJoin(jobs, eq(jobs.id, tasks.jobId)).where(eq(tasks.id, claims.taskId)).get();
    if (!task || task.probeId !== claims.probeId) throw new ApiError("not_found", "task not found");
    // Fetching proves the push arrived: a task still 'ready' (push answer not yet recorded) becomes notified.
    await commit([
      db.update(tasks).set({ fetchedAt: at }).where(eq(tasks.id, task.id)),
      ...taskTransition(db, task.id, "notify", at, `probe:${task.probeId}`, { notifiedAt: at }, { via: "pingback" }),
      eventInsert(db, { at, type: "task.fetched", actor: `probe:${task.probeId}`, jobId: task.jobId, probeId: task.probeId, taskId: task.id }),
    ]);
    const state = task.state === "ready" ? "notified" : task.state;
    const base = settings.publicBaseUrl;
    return c.json(
      {
        type: "task" as const,
        id: task.id,
        test_name: task.testName,
        arguments: JSON.parse(task.jobArguments ?? "{}") as Record<string, unknown>,
        state,
        accept_url: pingbackUrl(base, token, "accept"),
        reject_url: pingbackUrl(base, token, "reject"),
        done_url: pingbackUrl(base, token, "done"),
      },
      200,
    );
  },
);

taskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/pingback/{token}/{action}",
    tags: ["tasks"],
    summary: "Answer the task of a pingback link: accept, reject or done (done may carry a result reference)",
    request: { params: PingbackActionParam, body: { required: false, content: { "application/json": { schema: TaskDoneBody } } } },
    responses: { 200: jsonContent(JobStatus, "The task's new state"), ...errorResponses(400, 401, 404, 409, 410, 503) },
  }),
  async (c) => {
    const { token, action } = c.req.valid("param");
    const { clock, settings } = c.var.services;
    const claims = await verifyPingback(token, settings.jwtSecret, clock);
    if (claims.kind !== "task") throw new ApiError("not_found", "an alert has nothing to accept or complete");
    const task = await ownTask(c, claims.taskId, claims.probeId).catch((e) => {
      throw e instanceof ApiError && e.code === "forbidden" ? new ApiError("not_found", "task not found") : e;
    });
    const body = await optionalBody(c);
    return c.json(await answer(c, task, action, action === "done" ? body.result : undefined), 200);
  },
);
