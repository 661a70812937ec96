import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono } from "hono";
import type { ApiClient } from "../console/api";
import type { ConsoleEnv } from "../console/session";
import type { AppEnv } from "./hono";

/** A job the minute cron runs. One failing job is logged and does not stop the others (functions/cron.ts). */
export type CronJob = { name: string; run: (env: Env, ctx: ExecutionContext, scheduledAt: Date) => Promise<unknown> };

/**
 * A surface's console pages: registered on the console's router, under `/console/<surface>...`, after the
 * console's own session and CSRF middleware, so every page is behind operator login. `api` calls this app's
 * JSON API in-process, so changes made from a page are validated, authorised and logged exactly as API calls.
 */
export type ConsolePages = (r: Hono<ConsoleEnv>, api: ApiClient) => void;

/**
 * A surface of the service (docs/architecture.md "How to add a surface"): its routers, mounted at "/" in the
 * order listed; the cron jobs it needs; its console pages. functions/surfaces.ts lists every surface.
 */
export type Surface = {
  name: string;
  routes?: OpenAPIHono<AppEnv>[];
  cron?: CronJob[];
  console?: ConsolePages;
};
