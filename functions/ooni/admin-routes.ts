import { createRoute, z } from "@hono/zod-openapi";
import { count, eq } from "drizzle-orm";
import { testListUrls } from "../../schema/ooni";
import { TestListCountryParam, TestListCountryQuery, TestListEntries, TestListImported, TestListSummary } from "../../schema/ooni-api";
import { actorOf, principal, requireOperator } from "../auth/middleware";
import { ApiError } from "../lib/errors";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { readCapped } from "./body";
import { listEntries, listSummaries } from "./queries";
import { ooniSettings } from "./settings";
import { deleteListWrites, replaceListWrites } from "./store";
import { type ParsedTestList, parseTestList } from "./test-list-csv";

export const ooniAdminRoutes = newRouter();

const ImportQuery = TestListCountryQuery.extend({
  skip_invalid: z
    .enum(["true", "false"])
    .default("false")
    .openapi({ description: "true: import the valid rows and report the others; false (default): any bad row refuses the whole file" }),
});

/** Parse an uploaded list; refuse it (400, nothing changed) when it is empty or, unless told to skip them, has bad rows. */
export function acceptedList(parsed: ParsedTestList, skipInvalid: boolean): ParsedTestList {
  const details = parsed.problems.slice(0, 50).map((p) => ({ path: `line ${p.line}`, message: p.message }));
  if (parsed.entries.length === 0)
    throw new ApiError("validation_failed", `invalid test list: ${parsed.problems[0]?.message ?? "no URLs in it"}`, details.length ? details : undefined);
  if (parsed.problems.length && !skipInvalid)
    throw new ApiError(
      "validation_failed",
      `invalid test list: ${parsed.problems.length} bad row(s), first at line ${parsed.problems[0].line}: ${parsed.problems[0].message}`,
      details,
    );
  return parsed;
}

ooniAdminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/api/v1/admin/test-lists",
    tags: ["ooni"],
    summary: "Import a Citizen Lab test list (CSV) for one country or global, replacing that list",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: {
      query: ImportQuery,
      body: {
        required: true,
        content: { "text/csv": { schema: z.string().openapi({ example: "url,category_code,category_description,date_added,source,notes\n" }) } },
      },
    },
    responses: { 200: jsonContent(TestListImported, "Imported"), ...errorResponses(400, 401, 403, 413) },
  }),
  async (c) => {
    const { country, skip_invalid } = c.req.valid("query");
    const { db, clock } = c.var.services;
    const bytes = await readCapped(c.req.raw, ooniSettings(c.env).testListMaxBytes);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new ApiError("bad_request", "test list must be UTF-8 text");
    }
    const list = acceptedList(parseTestList(text), skip_invalid === "true");
    const before = (await db.select({ n: count() }).from(testListUrls).where(eq(testListUrls.countryCode, country)).get())?.n ?? 0;
    await db.batch(replaceListWrites(db, country, list.entries, clock.now().toISOString(), actorOf(principal(c)), before) as never);
    return c.json({ country, imported: list.entries.length, replaced: before, problems: list.problems }, 200);
  },
);

ooniAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/test-lists",
    tags: ["ooni"],
    summary: "The imported test lists: URLs and categories per country",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    responses: { 200: jsonContent(TestListSummary, "One row per list (XX = global)"), ...errorResponses(401, 403) },
  }),
  async (c) => c.json({ lists: await listSummaries(c.var.services.db) }, 200),
);

ooniAdminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/test-lists/{country}",
    tags: ["ooni"],
    summary: "One test list's entries",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { params: TestListCountryParam },
    responses: { 200: jsonContent(TestListEntries, "The list"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { country } = c.req.valid("param");
    return c.json({ country, results: await listEntries(c.var.services.db, country) }, 200);
  },
);

ooniAdminRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/api/v1/admin/test-lists",
    tags: ["ooni"],
    summary: "Remove one country's (or the global) test list",
    security: [{ bearer: [] }],
    middleware: [requireOperator("operator")] as const,
    request: { query: TestListCountryQuery },
    responses: { 200: jsonContent(z.object({ country: z.string(), removed: z.number() }), "Removed"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const { country } = c.req.valid("query");
    const { db, clock } = c.var.services;
    const removed = (await db.select({ n: count() }).from(testListUrls).where(eq(testListUrls.countryCode, country)).get())?.n ?? 0;
    await db.batch(deleteListWrites(db, country, clock.now().toISOString(), actorOf(principal(c)), removed) as never);
    return c.json({ country, removed }, 200);
  },
);
