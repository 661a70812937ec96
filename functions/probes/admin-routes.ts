import { createRoute } from "@hono/zod-openapi";
import { and, asc, count, desc, eq, gt, gte, inArray, lt, or, type SQL } from "drizzle-orm";
import { probes, probeUpdates } from "../../schema/probes";
import { ClientDetail, ClientIdParam, ClientList, ClientListQuery } from "../../schema/probes-api";
import { requireOperator } from "../auth/middleware";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { clientView } from "./metadata";

export const probeAdminRoutes = newRouter();

/** The WHERE conditions of a client filter (shared by the list, its counts and campaign targeting previews). */
export function clientFilter(q: ClientListQuery): SQL[] {
  const conds: SQL[] = [];
  const countries = [...(q.country ?? []), ...(q.country_code ?? [])];
  if (countries.length) conds.push(inArray(probes.probeCc, countries));
  if (q.asn?.length) conds.push(inArray(probes.probeAsn, q.asn));
  if (q.platform?.length) conds.push(inArray(probes.platform, q.platform));
  if (q.network_type?.length) conds.push(inArray(probes.networkType, q.network_type));
  if (q.software_name?.length) conds.push(inArray(probes.softwareName, q.software_name));
  if (q.software_version?.length) conds.push(inArray(probes.softwareVersion, q.software_version));
  if (q.token_state?.length) conds.push(inArray(probes.pushTokenState, q.token_state));
  if (q.last_seen_after) conds.push(gte(probes.lastSeenAt, new Date(q.last_seen_after).toISOString()));
  if (q.last_seen_before) conds.push(lt(probes.lastSeenAt, new Date(q.last_seen_before).toISOString()));
  return conds;
}

probeAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/clients",
    tags: ["registry"],
    summary: "List and filter probes (oldest first, cursor-paginated)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { query: ClientListQuery },
    responses: { 200: jsonContent(ClientList, "A page of probes"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { db } = c.var.services;
    const filter = clientFilter(q);
    const page = [...filter];
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor, 2) as [string, string];
      page.push(or(gt(probes.createdAt, createdAt), and(eq(probes.createdAt, createdAt), gt(probes.id, id)))!);
    }
    const where = filter.length ? and(...filter) : undefined;
    const [rows, total, countries] = await db.batch([
      db
        .select()
        .from(probes)
        .where(page.length ? and(...page) : undefined)
        .orderBy(asc(probes.createdAt), asc(probes.id))
        .limit(q.limit + 1),
      db.select({ n: count() }).from(probes).where(where),
      db
        .select({ probe_cc: probes.probeCc, count: count() })
        .from(probes)
        .where(where)
        .groupBy(probes.probeCc)
        .orderBy(desc(count()), asc(probes.probeCc)),
    ]);
    const more = rows.length > q.limit;
    const results = rows.slice(0, q.limit);
    const last = results[results.length - 1];
    const nextCursor = more && last ? encodeCursor([last.createdAt, last.id]) : null;
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
          total_client_count: total[0]?.n ?? 0,
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
    tags: ["registry"],
    summary: "One probe with its metadata history (newest change first)",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: ClientIdParam },
    responses: { 200: jsonContent(ClientDetail, "The probe"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { client_id: id } = c.req.valid("param");
    const { db } = c.var.services;
    const [row, updates] = await db.batch([
      db.select().from(probes).where(eq(probes.id, id.toLowerCase())),
      db.select().from(probeUpdates).where(eq(probeUpdates.probeId, id.toLowerCase())).orderBy(desc(probeUpdates.id)).limit(200),
    ]);
    if (!row[0]) throw new ApiError("not_found", "client is not registered");
    return c.json(
      {
        ...clientView(row[0]),
        updates: updates.map((u) => ({
          at: u.at,
          update_type: u.updateType,
          changed: JSON.parse(u.changed) as string[],
          snapshot: JSON.parse(u.snapshot) as Record<string, unknown>,
        })),
      },
      200,
    );
  },
);
