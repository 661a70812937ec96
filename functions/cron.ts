import { fireDueCampaigns } from "./campaigns/cron";
import { buildServices } from "./lib/hono";
import { renewSchoolLeases } from "./school";

/** A job the minute cron runs. Each surface that needs periodic work adds one to CRON_JOBS. */
export type CronJob = { name: string; run: (env: Env, ctx: ExecutionContext, scheduledAt: Date) => Promise<unknown> };

export const CRON_JOBS: CronJob[] = [fireDueCampaigns, renewSchoolLeases];

/** Runs every job; one failing job is logged and does not stop the others. */
export async function runCron(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  buildServices(env); // fail fast on a misconfigured deployment
  const at = new Date(controller.scheduledTime);
  const results = await Promise.allSettled(CRON_JOBS.map((j) => j.run(env, ctx, at)));
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      console.error(JSON.stringify({ level: "error", cron: CRON_JOBS[i].name, message: String(r.reason) }));
    }
  });
}
