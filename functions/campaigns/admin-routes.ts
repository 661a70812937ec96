import { createRoute, z } from "@hono/zod-openapi";
import { DryRun, JobBody, JobCreated, JobDetail, JobIdParam, JobList, JobStatus } from "../../schema/campaigns-api";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import type { Db } from "../lib/db";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { jobKind, jobView, requestHash, scheduleFromBody, stateAfter } from "./jobs";
import { jobById, jobDetail, listJobs, openDeliveries, reachCounts, upcomingFrom } from "./queries";
import { changeJobState, createJob, deleteJob } from "./store";
// OONI: CAMPAIGN_TESTS allowlist and per-run check-ins/measurements (functions/ooni).
import { assertCampaignTest } from "../ooni/campaign-tests";
import { campaignReach } from "../ooni/campaign-reach";

// The job API: each handler validates, authorises and delegates, to queries.ts for reads and store.ts for writes.

export const campaignAdminRoutes = newRouter();

const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, "must be 1-200 printable ASCII characters")
    .optional()
    .openapi({ description: "A retried create with the same key (and body) returns the same job" }),
});

/** A guarded change found the row already moved by a concurrent request: nothing was changed or recorded. */
const lostRace = () => new ApiError("conflict", "the campaign was changed by another request at the same time; reload it and try again");

async function loadJob(db: Db, id: string) {
  const row = await jobById(db, id);
  if (!row) throw new ApiError("not_found", "job not found");
  return row;
}

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
    assertCampaignTest(c.env, body);
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
    const id = await createJob(db, {
      body,
      schedule,
      firstAtMs: first.at,
      at: now.toISOString(),
      createdBy: me.sub,
      actor: actorOf(me),
      idempotencyKey: idemKey,
      requestHash: idemKey ? await requestHash(body) : null,
    });
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
    assertCampaignTest(c.env, body);
    const { db, clock } = c.var.services;
    const now = clock.now().getTime();
    const schedule = scheduleFromBody(body.schedule, now);
    const kind = jobKind(body);
    const reach = await reachCounts(db, { kind, target: body.target, testName: kind === "task" ? (body.task?.test_name ?? null) : null });
    return c.json(
      {
        targets: reach.targets,
        with_push_token: reach.withPushToken,
        projected_pushes_per_run: reach.withPushToken,
        by_country: reach.byCountry,
        by_asn: reach.byAsn,
        by_platform: reach.byPlatform,
        rollout_minutes: body.rollout_per_minute ? Math.ceil(reach.withPushToken / body.rollout_per_minute) : null,
        upcoming_runs: upcomingFrom(schedule, now),
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
    const rows = await listJobs(c.var.services.db);
    return c.json({ jobs: rows.map(jobView) }, 200);
  },
);

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
    const { db } = c.var.services;
    const job = await loadJob(db, c.req.valid("param").job_id);
    const detail = await jobDetail(db, job);
    // OONI: each run's check-ins and measurements (functions/ooni).
    const reach = await campaignReach(
      db,
      job.id,
      detail.runs.map((r) => r.id),
    );
    return c.json({ ...detail, runs: detail.runs.map((r) => ({ ...r, ...reach.get(r.id) })) }, 200);
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
    responses: { 200: jsonContent(JobStatus, "Deleted"), ...errorResponses(400, 401, 403, 404, 409) },
  }),
  async (c) => {
    const { db, clock } = c.var.services;
    const job = await loadJob(db, c.req.valid("param").job_id);
    if (job.state !== "deleted") {
      const { changed } = await deleteJob(db, job, clock.now().toISOString(), actorOf(principal(c)));
      if (!changed) throw lostRace();
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
          ? "Pause a campaign: no new run fires, a run being handed out stops, and pushes not yet sent are held (a done campaign pauses while it has some)"
          : "Resume a paused campaign: held pushes are sent; runs due while it was paused are skipped; the next one is computed from now",
      security: [{ bearer: [] }],
      middleware: [requireOperator("operator")] as const,
      request: { params: JobIdParam },
      responses: { 200: jsonContent(JobStatus, "The new state"), ...errorResponses(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { db, clock } = c.var.services;
      const job = await loadJob(db, c.req.valid("param").job_id);
      const now = clock.now();
      // A done campaign can still be paused while its last runs have pushes to send (one-run campaigns are done at their fire).
      const open = action === "pause" && job.state === "done" ? await openDeliveries(db, job, now.getTime()) : false;
      const next = stateAfter(action, job, now.getTime(), open);
      if (next.unchanged) return c.json({ status: next.state }, 200);
      const { changed } = await changeJobState(
        db,
        job,
        { state: next.state, nextRunAt: next.nextRunAt },
        { at: now.toISOString(), type: `job.${action}d`, actor: actorOf(principal(c)), data: { next_run_at: next.nextRunAt } },
      );
      if (!changed) throw lostRace();
      if (action === "resume") await c.env.CAMPAIGN_RUNNER.getByName(job.id).resume();
      return c.json({ status: next.state }, 200);
    },
  );
}
