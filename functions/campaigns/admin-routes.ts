import { createRoute, z } from "@hono/zod-openapi";
import { and, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { jobRuns, jobs, tasks } from "../../schema/campaigns";
import { DryRun, JobBody, JobCreated, JobDetail, JobIdParam, JobList, JobStatus } from "../../schema/campaigns-api";
import { events } from "../../schema/events";
import { probes } from "../../schema/probes";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { eventInsert } from "../events/store";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { newId } from "../lib/ids";
import { startsWith } from "../lib/sql-lists";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { jobKind, jobView, requestHash, runCounterSums, runTaskCounts, runView, scheduleFromBody } from "./jobs";
import { storedSchedule, upcoming } from "./schedule";
import { normalizeTarget, targetConditions } from "./targeting";

export const campaignAdminRoutes = newRouter();

const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, "must be 1-200 printable ASCII characters")
    .optional()
    .openapi({ description: "A retried create with the same key (and body) returns the same job" }),
});

const iso = (ms: number) => new Date(ms).toISOString();

campaignAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/job",
    tags: ["campaigns"],
    summary: "Create a campaign (OONI's job): a task or an alert, a schedule and a target",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { body: jsonBody(JobBody), headers: IdempotencyHeader },
    responses: { 200: jsonContent(JobCreated, "The job's id"), ...errorResponses(400, 401, 403, 409, 413) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const idemKey = c.req.valid("header")["idempotency-key"] ?? null;
    const { db, clock } = c.var.services;
    const me = principal(c);
    const now = clock.now();
    const schedule = scheduleFromBody(body.schedule, now.getTime());
    const first = schedule.slotAtOrAfter(now.getTime());
    if (!first)
      throw new ApiError("validation_failed", "invalid request: schedule: it has no runs left after now", [
        { path: "schedule", message: "no runs left after now" },
      ]);
    const hash = idemKey ? await requestHash(body) : null;
    const replay = async () => {
      if (!idemKey) return null;
      const hit = await db
        .select({ id: jobs.id, requestHash: jobs.requestHash })
        .from(jobs)
        .where(and(eq(jobs.createdBy, me.sub), eq(jobs.idempotencyKey, idemKey)))
        .get();
      if (hit && hit.requestHash !== hash) throw new ApiError("conflict", "this Idempotency-Key was already used with a different request body");
      return hit?.id ?? null;
    };
    const earlier = await replay();
    if (earlier) return c.json({ id: earlier }, 200);
    const id = newId();
    const at = now.toISOString();
    const kind = jobKind(body);
    const target = normalizeTarget(body.target);
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
          testName: kind === "task" ? body.task!.test_name : null,
          arguments: kind === "task" ? JSON.stringify(body.task!.arguments) : null,
          alertMessage: kind === "alert" ? body.alert!.message : null,
          alertExtra: kind === "alert" ? JSON.stringify(body.alert!.extra) : null,
          target: JSON.stringify(target),
          state: "active",
          rolloutPerMinute: body.rollout_per_minute ?? null,
          startingDeadlineS: body.starting_deadline_s,
          taskTimeoutS: body.task_timeout_s,
          timesRun: 0,
          nextRunAt: iso(first.at),
          createdAt: at,
          createdBy: me.sub,
          updatedAt: at,
          idempotencyKey: idemKey,
          requestHash: hash,
        }),
        eventInsert(db, {
          at,
          type: "job.created",
          actor: actorOf(me),
          jobId: id,
          data: { schedule: body.schedule, kind, target, comment: body.comment, next_run_at: iso(first.at), idempotency_key: idemKey },
        }),
      ]);
    } catch (e) {
      // Two concurrent creates with one key: the unique index picks the winner, the other replays it.
      if (idemKey && String((e as Error)?.message ?? e).includes("UNIQUE")) {
        const winner = await replay();
        if (winner) return c.json({ id: winner }, 200);
      }
      throw e;
    }
    return c.json({ id }, 200);
  },
);

campaignAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/job/dry-run",
    tags: ["campaigns"],
    summary: "Preview a campaign: who it reaches, how many can be pushed, the next runs. Creates nothing.",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { body: jsonBody(JobBody) },
    responses: { 200: jsonContent(DryRun, "The preview"), ...errorResponses(400, 401, 403, 413) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { db, clock } = c.var.services;
    const now = clock.now().getTime();
    const schedule = scheduleFromBody(body.schedule, now);
    const kind = jobKind(body);
    const conds = targetConditions(normalizeTarget(body.target), kind === "task" ? body.task!.test_name : null);
    if (kind === "alert") conds.push(eq(probes.pushTokenState, "valid"));
    const where = conds.length ? and(...conds) : undefined;
    const live = and(...([...conds, eq(probes.pushTokenState, "valid")] as SQL[]));
    const by = (col: typeof probes.probeCc | typeof probes.probeAsn | typeof probes.platform) =>
      db
        .select({ key: sql<string>`${col}`, count: count() })
        .from(probes)
        .where(where)
        .groupBy(col)
        .orderBy(desc(count()), col)
        .limit(100);
    const [total, withToken, byCountry, byAsn, byPlatform] = await db.batch([
      db.select({ n: count() }).from(probes).where(where),
      db.select({ n: count() }).from(probes).where(live),
      by(probes.probeCc),
      by(probes.probeAsn),
      by(probes.platform),
    ]);
    const pushes = withToken[0]?.n ?? 0;
    return c.json(
      {
        targets: total[0]?.n ?? 0,
        with_push_token: pushes,
        projected_pushes_per_run: pushes,
        by_country: byCountry,
        by_asn: byAsn,
        by_platform: byPlatform,
        rollout_minutes: body.rollout_per_minute ? Math.ceil(pushes / body.rollout_per_minute) : null,
        upcoming_runs: upcoming(schedule, now, 5).map(iso),
      },
      200,
    );
  },
);

campaignAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/jobs",
    tags: ["campaigns"],
    summary: "All campaigns, newest first (deleted ones included, as OONI did)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    responses: { 200: jsonContent(JobList, "Campaigns"), ...errorResponses(401, 403) },
  }),
  async (c) => {
    const rows = await c.var.services.db.select().from(jobs).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(1000).all();
    return c.json({ jobs: rows.map(jobView) }, 200);
  },
);

/** Push outcomes of a campaign from its delivery log (the push.* events). */
function deliveryCounts(rows: { type: string; expired: number | null; n: number }[]) {
  const d = { sent: 0, failed: 0, token_expired: 0, deferred: 0, skipped: 0, retried: 0 };
  for (const r of rows) {
    if (r.type === "push.sent") d.sent += r.n;
    else if (r.type === "push.failed" && r.expired) d.token_expired += r.n;
    else if (r.type === "push.failed") d.failed += r.n;
    else if (r.type === "push.deferred") d.deferred += r.n;
    else if (r.type === "push.skipped") d.skipped += r.n;
    else if (r.type === "push.retry") d.retried += r.n;
  }
  return d;
}

async function loadJob(c: { var: { services: { db: import("../lib/db").Db } } }, id: string) {
  const row = await c.var.services.db.select().from(jobs).where(eq(jobs.id, id.toLowerCase())).get();
  if (!row) throw new ApiError("not_found", "job not found");
  return row;
}

campaignAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/job/{job_id}",
    tags: ["campaigns"],
    summary: "One campaign: definition, next run, runs so far, task counts by state",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: JobIdParam },
    responses: { 200: jsonContent(JobDetail, "The campaign"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const job = await loadJob(c, c.req.valid("param").job_id);
    const { db } = c.var.services;
    const [runs, counts, delivery] = await db.batch([
      db.select().from(jobRuns).where(eq(jobRuns.jobId, job.id)).orderBy(desc(jobRuns.scheduledAt)).limit(100),
      // Task totals from the runs' counters, not from the tasks table: the retention cron prunes old tasks.
      db.select(runCounterSums).from(jobRuns).where(eq(jobRuns.jobId, job.id)),
      db
        .select({ type: events.type, expired: sql<number>`json_extract(${events.data}, '$.token_expired')`, n: count() })
        .from(events)
        .where(and(eq(events.jobId, job.id), startsWith(events.type, "push.")))
        .groupBy(events.type, sql`json_extract(${events.data}, '$.token_expired')`),
    ]);
    const taskCounts = runTaskCounts(counts[0]);
    const next = job.nextRunAt && (job.state === "active" || job.state === "paused") ? Date.parse(job.nextRunAt) : null;
    const up = next === null ? [] : upcoming(storedSchedule(job.schedule, Date.parse(job.startAt)), Math.max(next, 0), 5).map(iso);
    return c.json(
      {
        ...jobView(job),
        runs: runs.map(runView),
        task_counts: taskCounts,
        delivery: deliveryCounts(delivery),
        upcoming_runs: up,
      },
      200,
    );
  },
);

campaignAdminRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/admin/job/{job_id}",
    tags: ["campaigns"],
    summary: "Delete a campaign: no run fires afterwards, its unanswered tasks expire, pending pushes are dropped",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { params: JobIdParam },
    responses: { 200: jsonContent(JobStatus, "Deleted"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const job = await loadJob(c, c.req.valid("param").job_id);
    const { db, clock } = c.var.services;
    if (job.state !== "deleted") {
      const at = clock.now().toISOString();
      await db.batch([
        db.update(jobs).set({ state: "deleted", nextRunAt: null, updatedAt: at }).where(eq(jobs.id, job.id)),
        db
          .update(tasks)
          .set({ state: "expired", updatedAt: at, error: "campaign deleted" })
          .where(and(eq(tasks.jobId, job.id), inArray(tasks.state, ["ready", "notified"]))),
        eventInsert(db, { at, type: "job.deleted", actor: actorOf(principal(c)), jobId: job.id, data: { previous_state: job.state } }),
      ]);
    }
    await c.env.CAMPAIGN_RUNNER.getByName(job.id).cancel();
    return c.json({ status: "deleted" }, 200);
  },
);

for (const action of ["pause", "resume"] as const) {
  campaignAdminRoutes.openapi(
    createRoute({
      method: "post",
      path: `/api/v1/admin/job/{job_id}/${action}`,
      tags: ["campaigns"],
      summary:
        action === "pause"
          ? "Pause a campaign: no new run fires and a run being handed out stops"
          : "Resume a paused campaign: runs due while it was paused are skipped; the next one is computed from now",
      security: [{ bearer: [] }],
      middleware: [requireOperator("operator")] as const,
      request: { params: JobIdParam },
      responses: { 200: jsonContent(JobStatus, "The new state"), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const job = await loadJob(c, c.req.valid("param").job_id);
      const { db, clock } = c.var.services;
      const want = action === "pause" ? "paused" : "active";
      if (job.state === want) return c.json({ status: want }, 200);
      if (job.state !== (action === "pause" ? "active" : "paused")) throw new ApiError("illegal_transition", `a ${job.state} campaign cannot be ${action}d`);
      const now = clock.now();
      const at = now.toISOString();
      let nextRunAt = job.nextRunAt;
      if (action === "resume") {
        const s = storedSchedule(job.schedule, Date.parse(job.startAt)).slotAtOrAfter(now.getTime());
        nextRunAt = s ? iso(s.at) : null;
      }
      const state = action === "resume" && nextRunAt === null ? "done" : want;
      const [upd] = await db.batch([
        db
          .update(jobs)
          .set({ state, nextRunAt, updatedAt: at })
          .where(and(eq(jobs.id, job.id), eq(jobs.state, job.state))),
        eventInsert(db, { at, type: `job.${action}d`, actor: actorOf(principal(c)), jobId: job.id, data: { next_run_at: nextRunAt } }),
      ]);
      void upd;
      if (action === "resume") await c.env.CAMPAIGN_RUNNER.getByName(job.id).resume();
      return c.json({ status: state }, 200);
    },
  );
}
