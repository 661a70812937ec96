import { fireDueCampaigns } from "./campaigns/cron";
import { buildServices } from "./lib/hono";
import { pushConfigFrom } from "./push/config";

/** A job the minute cron runs. Each surface that needs periodic work adds one to CRON_JOBS. */
export type CronJob = { name: string; run: (env: Env, ctx: ExecutionContext, scheduledAt: Date) => Promise<unknown> };

export const CRON_JOBS: CronJob[] = [fireDueCampaigns];

/** Runs every job; one failing job is logged and does not stop the others. */
export async function runCron(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  try {
    buildServices(env); // fail fast on a misconfigured deployment
    pushConfigFrom(env); // ... including a push configuration that cannot deliver (direct APNs from a Worker: docs/push.md)
  } catch (e) {
    console.error(JSON.stringify({ level: "error", cron: "settings", message: String((e as Error)?.message ?? e) }));
    throw e;
  }
  const at = new Date(controller.scheduledTime);
  const results = await Promise.allSettled(CRON_JOBS.map((j) => j.run(env, ctx, at)));
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      console.error(JSON.stringify({ level: "error", cron: CRON_JOBS[i].name, message: String(r.reason) }));
    }
  });
}
