import { buildServices } from "./lib/hono";
import { errorText, log } from "./lib/log";
import type { CronJob } from "./lib/surface";
import { pushConfigFrom } from "./push/config";
import { SURFACES } from "./surfaces";

/** Every surface's cron jobs, run by the minute trigger (wrangler.toml [triggers]). */
export const CRON_JOBS: readonly CronJob[] = SURFACES.flatMap((s) => s.cron ?? []);

/** Runs every job; one failing job is logged and does not stop the others. */
export async function runCron(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  try {
    buildServices(env); // fail fast on a misconfigured deployment
    pushConfigFrom(env); // ... including a push configuration that cannot deliver (direct APNs from a Worker: docs/push.md)
  } catch (e) {
    log.error("cron", errorText(e), { cron: "settings" });
    throw e;
  }
  const at = new Date(controller.scheduledTime);
  const results = await Promise.allSettled(CRON_JOBS.map((j) => j.run(env, ctx, at)));
  results.forEach((r, i) => {
    if (r.status === "rejected") log.error("cron", String(r.reason), { cron: CRON_JOBS[i].name });
  });
}
