import { buildServices } from "../lib/hono";
import { log } from "../lib/log";
import type { CronJob } from "../lib/surface";
import { retentionSettings } from "./settings";
import { pruneOnce } from "./store";

/** The minute cron's pruning: old final tasks, delivery records, events and probe history, a bounded batch at a time. */
export const pruneOldRecords: CronJob = {
  name: "retention.prune",
  run: async (env, _ctx, scheduledAt) => {
    const { db } = buildServices(env);
    const report = await pruneOnce(db, retentionSettings(env), scheduledAt.getTime());
    if (report.tasks + report.deliveries + report.events + report.probe_updates > 0) log.info("retention", "pruned old records", { ...report });
    return report;
  },
};
