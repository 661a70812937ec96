/** @jsxImportSource hono/jsx */
import { asc } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { JobIdParam } from "../../schema/campaigns-api";
import { EventQuery } from "../../schema/events-api";
import { MinionIdParam } from "../../schema/minions-api";
import { operators } from "../../schema/operators";
import { OperatorUsername } from "../../schema/auth-api";
import { ClientIdParam, ClientListQuery } from "../../schema/probes-api";
import { resolvePrincipal } from "../auth/middleware";
import { verifyToken } from "../auth/tokens";
import { listEvents } from "../events/queries";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../lib/hono";
import { listProbes, probeWithHistory } from "../probes/queries";
import { type ApiClient, callApi } from "./api";
import { campaignDetail, campaignList, fleetValues } from "./campaign-queries";
import { CONSOLE_CSS, CONSOLE_CSS_ETAG } from "./assets";
import { ASSET_CSS } from "./components/layout";
import {
  eventQueryInput,
  type EventFilterForm,
  EVENT_FILTER_FIELDS,
  issuesByField,
  PROBE_FILTER_FIELDS,
  PROBE_PATH_TO_FIELD,
  type ProbeFilterForm,
  probeQueryInput,
} from "./lib/filters";
import { campaignFieldErrors, type CampaignForm, campaignFormFrom, jobBodyFromForm, mergeErrors } from "./lib/campaign-form";
import { type FieldErrors, fieldErrors, safeNext } from "./lib/forms";
import { schedulePreview } from "./lib/schedule-text";
import { minionFleet, minionStatus } from "./minions";
import { CampaignPage } from "./pages/campaign";
import { campaignReach } from "../ooni/campaign-reach";
import { CampaignMeasurements } from "../ooni/console";
import { type DryRunResult, NewCampaignPage } from "./pages/campaign-new";
import { CampaignsPage } from "./pages/campaigns";
import { MinionPage, MinionsPage } from "./pages/minions";
import { ErrorPage } from "./pages/error";
import { EventsPage } from "./pages/events";
import { LOGIN_REASONS, LoginPage } from "./pages/login";
import { OPERATOR_FIELDS, OperatorsPage } from "./pages/operators";
import { OverviewPage } from "./pages/overview";
import { ProbePage } from "./pages/probe";
import { ProbesPage } from "./pages/probes";
import { campaignSummary, fleetOverview, probeTasks } from "./queries";
import {
  clearLoginNonce,
  clearSessionCookie,
  type ConsoleEnv,
  CSRF_FIELD,
  csrfToken,
  csrfValid,
  LOGIN_COOKIE,
  loginNonce,
  requireCsrf,
  requireSession,
  SESSION_COOKIE,
  sameOriginRequest,
  setSessionCookie,
} from "./session";
import { log } from "../lib/log";
import type { ConsolePages } from "../lib/surface";

type C = Context<ConsoleEnv>;

/** Render a page as a complete HTML document. */
async function render(c: C, node: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

/** Only the named keys of a query or form, as strings (repeated or file values are ignored). */
function pick<K extends string>(src: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) if (typeof src[k] === "string") out[k] = (src[k] as string).slice(0, 1024);
  return out;
}

/** Headers for every console response: no framing, no third-party anything, nothing inline, and a server time. */
const consoleHeaders = createMiddleware<ConsoleEnv>(async (c, next) => {
  const t0 = Date.now();
  await next();
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "same-origin");
  // Workers' clock advances across I/O, so this is the request's D1 and rendering wall time as the isolate saw it.
  c.header("Server-Timing", `app;dur=${Date.now() - t0}`);
});

/**
 * The operator console under /console: server-rendered pages (Hono JSX) behind a cookie session carrying the
 * API's operator JWT. Reads go straight to D1 through the shared query modules; every change goes through the
 * JSON API in-process (`api`), so validation, authorization and the event log have one implementation.
 */
export function consoleRoutes(api: ApiClient, surfacePages: readonly ConsolePages[] = []) {
  const r = new Hono<ConsoleEnv>();

  r.get("/", (c) => c.redirect("/console", 302));

  // Note: in Hono "/console/*" also matches "/console" itself, so each middleware is registered once.
  r.use("/console/*", consoleHeaders);

  r.get(ASSET_CSS, (c) => {
    c.header("Cache-Control", "public, max-age=3600");
    c.header("ETag", CONSOLE_CSS_ETAG);
    if (c.req.header("if-none-match") === CONSOLE_CSS_ETAG) return c.body(null, 304);
    return c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" });
  });

  // ---- login / logout -----------------------------------------------------------------------------------------

  r.get("/console/login", async (c) => {
    c.header("Cache-Control", "no-store");
    const token = getCookie(c, SESSION_COOKIE);
    if (token) {
      const p = await resolvePrincipal(c as unknown as Context<AppEnv>, token).catch(() => null);
      if (p && p.kind === "operator") return c.redirect(safeNext(c.req.query("next")), 303);
    }
    const reason = c.req.query("reason");
    const csrf = await csrfToken(c.var.services.settings, "login", loginNonce(c));
    return render(c, <LoginPage csrf={csrf} next={c.req.query("next")} reason={reason && reason in LOGIN_REASONS ? reason : undefined} />);
  });

  r.post("/console/login", async (c) => {
    c.header("Cache-Control", "no-store");
    const { settings, clock } = c.var.services;
    const body = await c.req.parseBody();
    const form = pick(body, ["username", "password", "next", CSRF_FIELD] as const);
    const nonce = getCookie(c, LOGIN_COOKIE);
    const fresh = async (general: string, status: 400 | 401 | 403, errors?: ReturnType<typeof fieldErrors>) =>
      render(
        c,
        <LoginPage csrf={await csrfToken(settings, "login", loginNonce(c))} next={form.next} username={form.username} general={general} errors={errors} />,
        status,
      );
    if (!sameOriginRequest(c as unknown as Context<AppEnv>)) return fresh("Cross-site login refused.", 403);
    if (!nonce || !(await csrfValid(settings, "login", nonce, form[CSRF_FIELD]))) {
      return fresh("The login form expired. Please log in again.", 403);
    }
    const reply = await callApi<{ token: string; expire: string }>(c, api, "POST", "/api/v1/login", {
      json: { username: form.username ?? "", password: form.password ?? "" },
      token: null,
    });
    if (!reply.ok) {
      if (reply.status === 400) return fresh("Enter a username and a password.", 400, fieldErrors(reply.details, ["username", "password"]));
      if (reply.status === 401) return fresh("Wrong username or password.", 401);
      throw new ApiError(reply.code as never, reply.error);
    }
    const who = await verifyToken(reply.body.token, settings, clock);
    // Probes log in through the same route; they have no console.
    if (who.kind !== "operator") return fresh("Wrong username or password.", 401);
    const ttl = Math.max(1, Math.floor((Date.parse(reply.body.expire) - clock.now().getTime()) / 1000));
    setSessionCookie(c, reply.body.token, ttl);
    clearLoginNonce(c);
    return c.redirect(safeNext(form.next), 303);
  });

  r.use("/console/*", async (c, next) => (c.req.path === "/console/login" || c.req.path === ASSET_CSS ? next() : requireSession(c, next)));
  r.post("/console/*", requireCsrf);

  r.post("/console/logout", (c) => {
    clearSessionCookie(c);
    return c.redirect("/console/login?reason=logged-out", 303);
  });

  // ---- pages --------------------------------------------------------------------------------------------------

  r.get("/console", async (c) => {
    const { db, clock } = c.var.services;
    const now = clock.now();
    const [fleet, campaigns] = await Promise.all([fleetOverview(db, now), campaignSummary(db)]);
    return render(c, <OverviewPage session={c.var.session} now={now} fleet={fleet} campaigns={campaigns} />);
  });

  r.get("/console/probes", async (c) => {
    const { db, clock } = c.var.services;
    const now = clock.now();
    const form = pick(c.req.query(), [...PROBE_FILTER_FIELDS, "cursor"] as const) as ProbeFilterForm;
    const { input, errors } = probeQueryInput(form, now);
    const q = ClientListQuery.safeParse(input);
    if (!q.success || Object.keys(errors).length) {
      const all = { ...errors, ...(q.success ? {} : issuesByField(q.error, PROBE_PATH_TO_FIELD)) };
      return render(c, <ProbesPage session={c.var.session} now={now} form={form} errors={all} result={null} />, 400);
    }
    const result = await listProbes(db, q.data, { withCountries: false });
    return render(c, <ProbesPage session={c.var.session} now={now} form={form} result={result} />);
  });

  r.get("/console/probes/:id", async (c) => {
    const { db, clock } = c.var.services;
    const id = ClientIdParam.safeParse({ client_id: c.req.param("id") });
    if (!id.success) throw new ApiError("not_found", "There is no probe with that client id.");
    const [found, tasks, events] = await Promise.all([
      probeWithHistory(db, id.data.client_id, 100),
      probeTasks(db, id.data.client_id.toLowerCase()),
      listEvents(db, { probe_id: id.data.client_id.toLowerCase(), order: "desc", limit: 20 }),
    ]);
    if (!found) throw new ApiError("not_found", "There is no probe with that client id.");
    return render(c, <ProbePage session={c.var.session} now={clock.now()} probe={found.probe} updates={found.updates} tasks={tasks} events={events.events} />);
  });

  r.get("/console/events", async (c) => {
    const form = pick(c.req.query(), [...EVENT_FILTER_FIELDS, "cursor"] as const) as EventFilterForm;
    const q = EventQuery.safeParse(eventQueryInput(form));
    if (!q.success) return render(c, <EventsPage session={c.var.session} form={form} errors={issuesByField(q.error)} result={null} />, 400);
    const result = await listEvents(c.var.services.db, q.data);
    return render(c, <EventsPage session={c.var.session} form={form} result={result} />);
  });

  // ---- campaigns ----------------------------------------------------------------------------------------------

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
    const reach = await campaignReach(
      db,
      jobId,
      detail.runs.map((r) => r.id),
    ); // OONI (functions/ooni)
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

  // ---- minions --------------------------------------------------------------------------------------------------

  r.get("/console/minions", async (c) => {
    const page = Number.parseInt(c.req.query("page") ?? "1", 10);
    const fleet = await minionFleet(c.env);
    return render(c, <MinionsPage session={c.var.session} now={c.var.services.clock.now()} fleet={fleet} page={Number.isFinite(page) ? page : 1} />);
  });

  r.get("/console/minions/:id", async (c) => {
    const id = MinionIdParam.safeParse({ id: c.req.param("id") });
    if (!id.success) throw new ApiError("not_found", "There is no minion with that id.");
    const [minion, events] = await Promise.all([
      minionStatus(c.env, id.data.id),
      listEvents(c.var.services.db, { subject_kind: "minion", subject_id: id.data.id, type: "minion.*", order: "desc", limit: 20 }),
    ]);
    if (!minion && events.events.length === 0) throw new ApiError("not_found", "There is no minion with that id.");
    return render(c, <MinionPage session={c.var.session} id={id.data.id} minion={minion} events={events.events} />);
  });

  // ---- operators (admin) ----------------------------------------------------------------------------------------

  const operatorRows = (c: C) =>
    c.var.session.principal.role === "admin" ? c.var.services.db.select().from(operators).orderBy(asc(operators.username)).all() : Promise.resolve(null);

  r.get("/console/operators", async (c) => {
    const created = OperatorUsername.safeParse(c.req.query("created") ?? "");
    const disabled = OperatorUsername.safeParse(c.req.query("disabled") ?? "");
    const flash = created.success ? `Operator ${created.data} created.` : disabled.success ? `Operator ${disabled.data} disabled.` : null;
    return render(c, <OperatorsPage session={c.var.session} operators={await operatorRows(c)} flash={flash} />);
  });

  r.post("/console/operators", async (c) => {
    const form = pick(await c.req.parseBody(), OPERATOR_FIELDS);
    const reply = await callApi(c, api, "POST", "/api/v1/admin/operators", {
      json: { username: form.username ?? "", password: form.password ?? "", role: form.role ?? "" },
    });
    if (reply.ok) return c.redirect(`/console/operators?created=${encodeURIComponent((reply.body as { username: string }).username)}`, 303);
    if (reply.status === 400 || reply.status === 409) {
      const errors = fieldErrors(reply.details, OPERATOR_FIELDS);
      const status = reply.status as 400 | 409;
      return render(
        c,
        <OperatorsPage
          session={c.var.session}
          operators={await operatorRows(c)}
          form={{ username: form.username, role: form.role }}
          errors={status === 409 ? { username: [reply.error] } : errors}
          general={reply.details ? null : status === 409 ? null : reply.error}
        />,
        status,
      );
    }
    throw new ApiError(reply.code as never, reply.error);
  });

  r.post("/console/operators/:username/disable", async (c) => {
    const username = c.req.param("username");
    const reply = await callApi(c, api, "DELETE", `/api/v1/admin/operators/${encodeURIComponent(username)}`);
    if (reply.ok) return c.redirect(`/console/operators?disabled=${encodeURIComponent(username.toLowerCase())}`, 303);
    throw new ApiError(reply.code as never, reply.error);
  });

  // Other surfaces' pages (functions/surfaces.ts), behind the same session and CSRF middleware.
  for (const register of surfacePages) register(r, api);

  r.all("/console/*", () => {
    throw new ApiError("not_found", "There is no console page at this address.");
  });

  // Console errors are pages, not JSON: the same ApiError codes and statuses, rendered for a person.
  r.onError(async (err, c) => {
    let status = 500;
    let message = "Something went wrong on our side. The request id is in the X-Request-Id header.";
    if (err instanceof ApiError) {
      status = err.status;
      message = err.message;
      for (const [k, v] of Object.entries(err.headers ?? {})) if (k.toLowerCase() !== "www-authenticate") c.header(k, v);
    } else {
      log.error("app", String(err), { requestId: c.get("requestId"), stack: (err as Error)?.stack });
    }
    c.header("Cache-Control", "no-store");
    return render(c, <ErrorPage status={status} message={message} session={c.get("session")} />, status as ContentfulStatusCode);
  });

  return r;
}
