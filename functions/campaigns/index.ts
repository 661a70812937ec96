import type { Surface } from "../lib/surface";
import { campaignAdminRoutes } from "./admin-routes";
import { fireDueCampaigns } from "./cron";
import { taskRoutes } from "./task-routes";

/** OONI Orchestra campaigns: the job API, the probes' task routes and pingbacks, the minute cron that fires runs. */
export const campaignsSurface: Surface = { name: "campaigns", routes: [campaignAdminRoutes, taskRoutes], cron: [fireDueCampaigns] };
