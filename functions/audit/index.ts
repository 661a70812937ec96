import type { Surface } from "../lib/surface";
import { auditAdminRoutes } from "./admin-routes";
import { auditConsole } from "./console";
import { auditSealCron } from "./cron";

/** The tamper-evident audit log (docs/audit.md): export and verify routes, the sealing cron, /console/audit. */
export const auditSurface: Surface = { name: "audit", routes: [auditAdminRoutes], cron: [auditSealCron], console: auditConsole };
