import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { ClientIdParam, RegisterBody, RegisterResponse, StatusOk, TestHelpersResponse, UpdateBody } from "../../schema/probes-api";
import { bearerOf, resolveForWrite, resolvePrincipal } from "../auth/middleware";
import { hashProbeSecret } from "../auth/passwords";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { newId } from "../lib/ids";
import { rateLimit } from "../lib/rate-limit";
import { errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { metadataFromBody, registrationMetadata } from "./metadata";
import { priorRegistration, probeUpdateBatch, registerWrites, releaseRegisterKey, windowCutoff } from "./store";
import { replayKeyOf, replayVerdict } from "./replay";
import { probesSettings } from "./settings";

export const probeRoutes = newRouter();

const IdempotencyHeaders = z.object({
  "idempotency-key": z.string().optional().openapi({
    description:
      "Optional. A retry with the same key and body gets the first registration's client_id; the same key with another body is 422. Without it, a body carrying a password is recognised by itself.",
  }),
});

probeRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/register",
    tags: ["probes"],
    summary: "Register a probe (OONI Orchestra contract)",
    description:
      "Retries are safe within REGISTER_REPLAY_WINDOW_S: the same Idempotency-Key (or, without one, the same body carrying a password) returns the same client_id, marked `Idempotent-Replayed: true`. A 503 `outcome_unknown` means the registration may or may not have been stored: send the same request again to learn its client_id.",
    middleware: [rateLimit("register")] as const,
    request: { headers: IdempotencyHeaders, body: jsonBody(RegisterBody) },
    responses: {
      200: jsonContent(RegisterResponse, "The new probe's client_id (or, for a retry, the first one's)"),
      ...errorResponses(400, 413, 422, 429, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { db, clock, commit, settings } = c.var.services;
    const windowS = probesSettings(c.env).registerReplayWindowS;
    const now = clock.now();
    const replay = windowS > 0 ? await replayKeyOf(settings.jwtSecret, body, c.req.valid("header")["idempotency-key"]) : null;
    const replayed = (id: string) => {
      c.header("Cache-Control", "no-store");
      c.header("Idempotent-Replayed", "true");
      return c.json({ client_id: id }, 200);
    };
    const id = newId();
    const at = now.toISOString();
    const meta = registrationMetadata(body);
    const passwordHash = body.password === undefined ? null : await hashProbeSecret(body.password);
    const writes = registerWrites(db, { id, meta, at, passwordHash, replay });
    // One round trip: a replay key already stored makes the insert (and with it the history row and the event) a
    // no-op, and only then is the stored registration read: a retry's answer, a reused key's 422, or a key whose
    // window has passed, released and registered again in one batch.
    const [inserted] = await commit(writes);
    if (inserted.length === 0 && replay) {
      const prior = await priorRegistration(db, replay.key);
      const v = prior ? replayVerdict(prior, replay, now, windowS) : "stale";
      if (v !== "stale") return replayed(v.replay);
      const [, again] = await commit([releaseRegisterKey(db, replay.key, windowCutoff(now, windowS)), ...writes]);
      if (again.length === 0) {
        // Another registration with this key committed in between: it is this one's answer too.
        const latest = await priorRegistration(db, replay.key);
        const w = latest ? replayVerdict(latest, replay, now, windowS) : "stale";
        if (w === "stale")
          throw new ApiError("unavailable", "this registration's key is being stored by another request; send it again", undefined, { "Retry-After": "1" });
        return replayed(w.replay);
      }
    }
    c.header("Cache-Control", "no-store");
    return c.json({ client_id: id }, 200);
  },
);

probeRoutes.openapi(
  createRoute({
    method: "put",
    path: "/api/v1/update/{client_id}",
    tags: ["probes"],
    summary: "Update a probe's metadata and push token",
    description:
      "A probe registered with a password must present its own token. A probe registered without one (the original flow) may update with its client_id alone.",
    security: [{ bearer: [] }],
    middleware: [rateLimit("update")] as const,
    request: { params: ClientIdParam, body: jsonBody(UpdateBody) },
    responses: { 200: jsonContent(StatusOk, "Updated"), ...errorResponses(400, 401, 403, 404, 413, 429, 503) },
  }),
  async (c) => {
    const { client_id: clientId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { db, clock, commit } = c.var.services;
    const token = bearerOf(c);
    const auth = await resolveForWrite(c, token, "probe", clientId);
    const caller = auth?.principal ?? null;
    if (caller && (caller.kind !== "probe" || caller.sub !== clientId)) {
      throw new ApiError("forbidden", "a probe may update only itself");
    }
    const at = clock.now().toISOString();
    const [, , updated] = await commit(probeUpdateBatch(db, clientId, metadataFromBody(body), at, caller === null, auth?.stands));
    if (updated.length === 0) {
      if (token !== null) await resolvePrincipal(c, token); // a revoked or disabled token: 401 invalid_token
      // Nothing was written: either the client does not exist, or it has a password and no token was sent.
      const row = await db.select({ hash: probes.passwordHash }).from(probes).where(eq(probes.id, clientId)).get();
      if (!row) throw new ApiError("not_found", "client is not registered");
      throw new ApiError("unauthorized", "this probe registered with a password: log in and send its token", undefined, {
        "WWW-Authenticate": "Bearer",
      });
    }
    return c.json({ status: "ok" as const }, 200);
  },
);

probeRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/test-helpers",
    tags: ["probes"],
    summary: "The configured test helpers (OONI probe-cli calls this at start-up)",
    responses: { 200: jsonContent(TestHelpersResponse, "Map of helper name to addresses") },
  }),
  (c) => c.json(c.var.services.settings.testHelpers, 200),
);
