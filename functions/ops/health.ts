import { createRoute, z } from "@hono/zod-openapi";
import { newRouter } from "../lib/hono";
import { jsonContent } from "../lib/openapi";

export const healthRoutes = newRouter();

healthRoutes.openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["ops"],
    summary: "Liveness: the Worker answers (touches no storage)",
    responses: { 200: jsonContent(z.object({ status: z.literal("ok"), time: z.string() }), "Alive") },
  }),
  (c) => c.json({ status: "ok" as const, time: c.var.services.clock.now().toISOString() }, 200),
);
