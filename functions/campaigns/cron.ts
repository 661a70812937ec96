import { and, asc, eq, lte } from "drizzle-orm";
import { jobs } from "../../schema/campaigns";
import { pool } from "../lib/pool";
import type { CronJob } from "../lib/surface";
import { buildServices } from "../lib/hono";
import { log } from "../lib/log";

/** Campaigns handed to their runners per minute tick (one subrequest each). */
const DUE_PER_TICK = 500;

/**
 * The minute cron: every campaign whose next run is due goes to its own CampaignRunner, which fires the run (or
 * records it missed) exactly once however often this is called. The cron itself never walks probes.
 */
export const fireDueCampaigns: CronJob = {
  name: "campaigns.fire-due",
  run: async (env, _ctx, scheduledAt) => {
    const { db } = buildServices(env);
    const now = scheduledAt.getTime();
    const due = await db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.state, "active"), lte(jobs.nextRunAt, new Date(now).toISOString())))
      .orderBy(asc(jobs.nextRunAt))
      .limit(DUE_PER_TICK)
      .all();
    const fired: string[] = [];
    const failed: string[] = [];
    await pool(due, 6, async (j) => {
      try {
        const r = await env.CAMPAIGN_RUNNER.getByName(j.id).fire(j.id, now);
        if (r.fired) fired.push(r.fired);
      } catch (e) {
        // One campaign's trouble must not stop the others; it is still due and is retried next minute.
        failed.push(j.id);
        log.error("cron", String(e), { cron: "campaigns.fire-due", job: j.id });
      }
    });
    return { due: due.length, fired, failed };
  },
};
