import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { consoleRoutes } from "./console/routes";
import { d1FailureAsApiError, isD1Failure } from "./lib/d1-errors";
import { ApiError, envelope, ERROR_STATUS } from "./lib/errors";
import { type AppEnv, buildServices, newRouter } from "./lib/hono";
import { hasOwnBodyLimit } from "./ooni/body";
import { schoolLimitsItsBody } from "./school/routes";
import { SURFACES } from "./surfaces";
import { log } from "./lib/log";

/** The request's waitUntil, when it has an execution context (in-process calls from tests may not). */
function waitUntil(c: Context<AppEnv>, work: Promise<unknown>): void {
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    return;
  }
  ctx.waitUntil(work);
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/** Request id (echoed from a sane incoming X-Request-Id, else new) and the per-request service container. */
const init = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  c.header("X-Request-Id", requestId);
  c.set(
    "services",
    buildServices(c.env, {
      keepAlive: (work) => waitUntil(c, work),
      // How many requests shared this write's D1 round trip (lib/group-commit.ts), for anyone reading latencies.
      onCommitted: (n) => c.header("Server-Timing", `commit;desc="shared by ${n}"`, { append: true }),
    }),
  );
  await next();
});

/** Bodies larger than MAX_BODY_BYTES are refused with 413 before any handler reads them. */
const limitBody = createMiddleware<AppEnv>((c, next) =>
  // OONI measurements and whole test lists are larger; those routes read their bodies with their own caps. The
  // school's body routes limit their bodies themselves, to answer in the school's own form (functions/school/routes.ts).
  hasOwnBodyLimit(c.req.path) || schoolLimitsItsBody(c.req.path)
    ? next()
    : bodyLimit({
        maxSize: c.var.services.settings.maxBodyBytes,
        onError: () => {
          throw new ApiError("payload_too_large", `request body exceeds ${c.var.services.settings.maxBodyBytes} bytes`);
        },
      })(c, next),
);

function httpExceptionToApiError(e: HTTPException): ApiError {
  if (e.status === 400 && /json/i.test(e.message)) return new ApiError("invalid_json", "request body is not valid JSON");
  if (e.status === 415) return new ApiError("unsupported_media_type", "request body must be JSON (Content-Type: application/json)");
  const byStatus = Object.entries(ERROR_STATUS).find(([, s]) => s === e.status)?.[0] as keyof typeof ERROR_STATUS | undefined;
  return new ApiError(byStatus ?? "bad_request", e.message || "bad request");
}

export function createApp() {
  const app = newRouter();
  app.use("*", init);
  app.use("*", limitBody);

  for (const surface of SURFACES) for (const routes of surface.routes ?? []) app.route("/", routes);
  // The operator console (server-rendered, cookie session) with every surface's pages; changes call this app in-process.
  app.route(
    "/",
    consoleRoutes(
      app,
      SURFACES.flatMap((s) => (s.console ? [s.console] : [])),
    ),
  );

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "edge-orchestra",
      version: "0.1.0",
      description: "Control plane for fleets of measurement probes and field devices. Errors use one envelope: {error, code}.",
    },
    servers: [{ url: c.var.services?.settings.publicBaseUrl ?? "/" }],
  }));

  app.notFound((c) => c.json(envelope(new ApiError("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)), 404));

  app.onError((err, c) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err instanceof HTTPException) e = httpExceptionToApiError(err);
    else if (isD1Failure(err)) {
      // D1 itself failed (not a statement): 503, and for a write "outcome unknown" (lib/d1-errors.ts).
      e = d1FailureAsApiError(err, c.req.method) as ApiError;
      log.warn("app", `D1 failure: ${String(err)}`, { requestId: c.get("requestId"), code: e.code });
    } else {
      // Unknown failures are logged with the request id and never shown to the client.
      log.error("app", String(err), { requestId: c.get("requestId"), stack: (err as Error)?.stack });
      e = new ApiError("internal", "internal error");
    }
    for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v);
    return c.json(envelope(e), e.status);
  });
  return app;
}

export type App = ReturnType<typeof createApp>;
