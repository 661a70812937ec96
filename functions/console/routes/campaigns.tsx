/** @jsxImportSource hono/jsx */
import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { JobIdParam } from "../../../schema/campaigns-api";
import { EventQuery } from "../../../schema/events-api";
import { campaignDetail, campaignList } from "../../campaigns/queries";
import { listEvents } from "../../events/queries";
import { ApiError } from "../../lib/errors";
import { campaignReach } from "../../ooni/campaign-reach";
import { CampaignMeasurements } from "../../ooni/console";
import { fleetValues } from "../../probes/queries";
import { type ApiClient, callApi } from "../api";
import { campaignFieldErrors, type CampaignForm, campaignFormFrom, jobBodyFromForm, mergeErrors } from "../lib/campaign-form";
import type { FieldErrors } from "../lib/forms";
import { schedulePreview } from "../lib/schedule-text";
import { CampaignPage } from "../pages/campaign";
import { type DryRunResult, NewCampaignPage } from "../pages/campaign-new";
import { CampaignsPage } from "../pages/campaigns";
import type { ConsoleEnv } from "../session";
import { type C, render } from "./shared";

/** Campaigns: the list, the new-campaign form (preview and create), one campaign, and pause/resume/delete. */
export const campaignsPages = (r: Hono<ConsoleEnv>, api: ApiClient) => {
  r.get("/console/campaigns", async (c) => {
    const { db, clock } = c.var.services;
    const rows = await campaignList(db);
    return render(c, <CampaignsPage session={c.var.session} now={clock.now()} rows={rows} />);
  });

  const newCampaignPage = async (
    c: C,
    status: ContentfulStatusCode,
    p: { form: CampaignForm; idempotencyKey: string; errors?: FieldErrors; general?: string | null; dryRun?: DryRunResult | null; withPreview?: boolean },
  ) => {
    const { db, clock } = c.var.services;
    const now = clock.now();
    const preview = p.withPreview && p.form.schedule?.trim() ? schedulePreview(p.form.schedule, now.getTime()) : null;
    const fleet = await fleetValues(db);
    return render(
      c,
      <NewCampaignPage
        session={c.var.session}
        now={now}
        fleet={fleet}
        form={p.form}
        errors={p.errors}
        general={p.general}
        preview={preview}
        dryRun={p.dryRun}
        idempotencyKey={p.idempotencyKey}
      />,
      status,
    );
  };

  r.get("/console/campaigns/new", (c) => newCampaignPage(c, 200, { form: { kind: "task" }, idempotencyKey: crypto.randomUUID() }));

  /**
   * One form, two buttons: "Preview" (intent=preview) asks the API's dry run and re-renders with the schedule in words,
   * the next runs and the reach; "Create" (intent=create) posts the job. Either way the API validates, and its
   * `details` land next to the fields. Viewers get no form; a forged create from a viewer gets the API's 403.
   */
  r.post("/console/campaigns/new", async (c) => {
    const raw = await c.req.parseBody({ all: true });
    const form = campaignFormFrom(raw);
    const key = typeof raw.idempotency_key === "string" && /^[A-Za-z0-9-]{8,64}$/.test(raw.idempotency_key) ? raw.idempotency_key : crypto.randomUUID();
    const intent = raw.intent === "create" ? "create" : "preview";
    const { body, errors: local } = jobBodyFromForm(form);
    const again = (status: ContentfulStatusCode, p: { errors?: FieldErrors; general?: string | null; dryRun?: DryRunResult | null } = {}) =>
      newCampaignPage(c, status, { form, idempotencyKey: key, withPreview: true, ...p });
    if (Object.keys(local).length) {
      // The API is not asked: the body cannot be built. The schedule is still checked, so every mistake shows at once.
      const sched = form.schedule?.trim() ? schedulePreview(form.schedule, c.var.services.clock.now().getTime()) : null;
      return again(400, { errors: mergeErrors(local, sched && !sched.ok ? { schedule: [sched.error] } : {}) });
    }
    const refused = (reply: { status: number; error: string; details?: { path: string; message: string }[] }) => {
      const errors = campaignFieldErrors(reply.details);
      return again(reply.status as ContentfulStatusCode, { errors, general: reply.details ? null : reply.error });
    };
    if (intent === "preview") {
      const reply = await callApi<DryRunResult>(c, api, "POST", "/api/v1/admin/job/dry-run", { json: body });
      if (reply.ok) return again(200, { dryRun: reply.body });
      if (reply.status === 400 || reply.status === 413) return refused(reply);
      throw new ApiError(reply.code as never, reply.error);
    }
    const reply = await callApi<{ id: string }>(c, api, "POST", "/api/v1/admin/job", { json: body, headers: { "idempotency-key": key } });
    if (reply.ok) return c.redirect(`/console/campaigns/${reply.body.id}?done=created`, 303);
    if (reply.status === 400 || reply.status === 409 || reply.status === 413) return refused(reply);
    throw new ApiError(reply.code as never, reply.error);
  });

  const DONE: Record<string, string> = {
    created: "Campaign created.",
    paused: "Campaign paused.",
    resumed: "Campaign resumed.",
    deleted: "Campaign deleted.",
  };

  r.get("/console/campaigns/:id", async (c) => {
    const { db, clock } = c.var.services;
    const id = JobIdParam.safeParse({ job_id: c.req.param("id") });
    if (!id.success) throw new ApiError("not_found", "There is no campaign with that id.");
    const jobId = id.data.job_id.toLowerCase();
    const cursor = c.req.query("cursor");
    const q = EventQuery.safeParse({ job_id: jobId, type: "push.*", limit: "50", cursor });
    if (!q.success) throw new ApiError("bad_request", "That page of the delivery log does not exist.");
    const [detail, deliveries] = await Promise.all([campaignDetail(db, jobId), listEvents(db, q.data)]);
    if (!detail) throw new ApiError("not_found", "There is no campaign with that id.");
    // OONI: which check-ins and measurements each run produced (functions/ooni).
    const reach = await campaignReach(
      db,
      jobId,
      detail.runs.map((r) => r.id),
    );
    const done = c.req.query("done");
    return render(
      c,
      <CampaignPage
        session={c.var.session}
        now={clock.now()}
        detail={detail}
        deliveries={deliveries}
        cursor={cursor}
        flash={done ? (DONE[done] ?? null) : null}
        ooni={<CampaignMeasurements runs={detail.runs} reach={reach} />}
      />,
    );
  });

  for (const action of ["pause", "resume", "delete"] as const) {
    r.post(`/console/campaigns/:id/${action}`, async (c) => {
      const id = JobIdParam.safeParse({ job_id: c.req.param("id") });
      if (!id.success) throw new ApiError("not_found", "There is no campaign with that id.");
      const path = `/api/v1/admin/job/${id.data.job_id}`;
      const reply = action === "delete" ? await callApi(c, api, "DELETE", path) : await callApi(c, api, "POST", `${path}/${action}`);
      if (!reply.ok) throw new ApiError(reply.code as never, reply.error);
      const done = action === "pause" ? "paused" : action === "resume" ? "resumed" : "deleted";
      return c.redirect(`/console/campaigns/${id.data.job_id}?done=${done}`, 303);
    });
  }
};
