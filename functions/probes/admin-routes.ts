import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { probes } from "../../schema/probes";
import { ClientDetail, ClientIdParam, ClientList, ClientListQuery } from "../../schema/probes-api";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { setDisabled } from "../auth/revocation";
import { principalVersions } from "../../schema/auth";
import { auditInsert } from "../audit/store";
import { log } from "../lib/log";
import { agentStub } from "../minions/registry";
import { eventInsert } from "../events/store";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { clientView } from "./metadata";
import { listProbes, probeWithHistory } from "./queries";

export const probeAdminRoutes = newRouter();

// Re-exported: campaign targeting previews import the filter from here.

probeAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/clients",
    tags: ["probes"],
    summary: "List and filter probes (oldest first, cursor-paginated)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { query: ClientListQuery },
    responses: { 200: jsonContent(ClientList, "A page of probes"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { results, total, countries, nextCursor } = await listProbes(c.var.services.db, q);
    let nextUrl: string | null = null;
    if (nextCursor) {
      const u = new URL(c.req.url);
      u.searchParams.set("cursor", nextCursor);
      nextUrl = `${c.var.services.settings.publicBaseUrl}${u.pathname}${u.search}`;
    }
    return c.json(
      {
        results: results.map(clientView),
        metadata: {
          count: results.length,
          total_client_count: total,
          client_countries: countries,
          limit: q.limit,
          next_cursor: nextCursor,
          next_url: nextUrl,
        },
      },
      200,
    );
  },
);

probeAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/clients/{client_id}",
    tags: ["probes"],
    summary: "One probe with its metadata history (newest change first)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: ClientIdParam },
    responses: { 200: jsonContent(ClientDetail, "The probe"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { client_id: id } = c.req.valid("param");
    const found = await probeWithHistory(c.var.services.db, id);
    if (!found) throw new ApiError("not_found", "client is not registered");
    return c.json({ ...clientView(found.probe), updates: found.updates }, 200);
  },
);

const DisabledView = z.object({ client_id: z.string(), disabled: z.boolean() }).openapi("ClientDisabled");

/** Disable / enable a probe: a disabled probe's tokens stop at once and it cannot log in (docs/security.md "Revocation"). */
for (const action of ["disable", "enable"] as const) {
  probeAdminRoutes.openapi(
    createRoute({
      method: "post",
      path: `/api/v1/admin/clients/{client_id}/${action}`,
      tags: ["probes"],
      summary:
        action === "disable"
          ? "Disable a probe: its tokens stop working and its logins fail"
          : "Enable a disabled probe (its old tokens stay revoked; it logs in again)",
      security: [{ bearer: [] }],
      middleware: [requireOperator("operator")] as const,
      request: { params: ClientIdParam },
      responses: { 200: jsonContent(DisabledView, action === "disable" ? "Disabled" : "Enabled"), ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const { client_id: id } = c.req.valid("param");
      const { db, clock } = c.var.services;
      const me = principal(c);
      const row = await db.select({ id: probes.id }).from(probes).where(eq(probes.id, id)).get();
      if (!row) throw new ApiError("not_found", "client is not registered");
      const at = clock.now().toISOString();
      const [versions] = await db.batch([
        setDisabled(db, "probe", row.id, action === "disable" ? at : null, at).returning({ version: principalVersions.version }),
        eventInsert(db, { at, type: `probe.${action}d`, actor: actorOf(me), subject: { kind: "probe", id: row.id }, probeId: row.id, data: {} }),
        auditInsert(db, { at, action: `probe.${action}d`, actor: actorOf(me), subject: { kind: "probe", id: row.id } }),
      ]);
      // A probe token may hold a minion socket in open enrolment (functions/minions/enrolment.ts): it closes too.
      if (action === "disable") {
        try {
          await agentStub(c.env, row.id).disconnect("probe", versions[0]?.version ?? 1, "disabled by an operator");
        } catch (e) {
          log.error("probes.disable", "the probe's minion object could not close its connection", { id: row.id, error: String(e) });
          throw new ApiError("unavailable", "disabled (its tokens are revoked), but its minion connection could not be closed: send the same request again");
        }
      }
      return c.json({ client_id: row.id, disabled: action === "disable" }, 200);
    },
  );
}
