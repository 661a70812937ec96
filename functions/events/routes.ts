import { createRoute } from "@hono/zod-openapi";
import { EventList, EventQuery } from "../../schema/events-api";
import { requireOperator } from "../auth/middleware";
import { newRouter } from "../lib/hono";
import { errorResponses, jsonContent } from "../lib/openapi";
import { listEvents } from "./queries";

export const eventRoutes = newRouter();

// Re-exported for callers that import the filter from the routes module.

eventRoutes.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/admin/events",
    tags: ["events"],
    summary: "The event history, filtered by job, probe, task, type and time; newest first unless order=asc",
    security: [{ bearer: [] }],
    middleware: [requireOperator("viewer")] as const,
    request: { query: EventQuery },
    responses: { 200: jsonContent(EventList, "A page of events"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => c.json(await listEvents(c.var.services.db, c.req.valid("query")), 200),
);
