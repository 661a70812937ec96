/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "../../lib/errors";
import { log } from "../../lib/log";
import type { ConsolePages } from "../../lib/surface";
import { type ApiClient, callApi } from "../api";
import { CONSOLE_CSS, CONSOLE_CSS_ETAG } from "../assets";
import { ASSET_CSS } from "../components/layout";
import { ErrorPage } from "../pages/error";
import { clearSessionCookie, type ConsoleEnv, requireCsrf, requireSession } from "../session";
import { authPages } from "./auth";
import { campaignsPages } from "./campaigns";
import { eventsPages } from "./events";
import { minionsPages } from "./minions";
import { operatorsPages } from "./operators";
import { overviewPages } from "./overview";
import { probesPages } from "./probes";
import { render } from "./shared";

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

  // ---- login / logout (before the session middleware) -----------------------------------------------------------

  authPages(r, api);

  r.use("/console/*", async (c, next) => (c.req.path === "/console/login" || c.req.path === ASSET_CSS ? next() : requireSession(c, next)));
  r.post("/console/*", requireCsrf);

  // Logging out revokes the session's token (POST /api/v1/logout), not just the cookie: a copied cookie dies too.
  r.post("/console/logout", async (c) => {
    const reply = await callApi(c, api, "POST", "/api/v1/logout", { json: {} });
    if (!reply.ok && reply.status !== 401) throw new ApiError("unavailable", "logout could not be recorded; try again");
    clearSessionCookie(c);
    return c.redirect("/console/login?reason=logged-out", 303);
  });

  // ---- pages, by group -----------------------------------------------------------------------------------------

  overviewPages(r);
  probesPages(r);
  eventsPages(r);
  campaignsPages(r, api);
  minionsPages(r);
  operatorsPages(r, api);

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
