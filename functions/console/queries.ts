import { asc, count, desc, eq, gte, sql } from "drizzle-orm";
import { jobs, tasks } from "../../schema/campaigns";
import { events } from "../../schema/events";
import { probes } from "../../schema/probes";
import { pushable } from "../campaigns/reach";
import type { Db } from "../lib/db";
import { startsWith } from "../lib/sql-lists";
import { windowStart } from "./lib/aggregate";

// The console's own reads (aggregates no API route serves). Lists and details reuse functions/probes/queries.ts
// and functions/events/queries.ts; campaign pages read through functions/campaigns/queries.ts, minion pages
// through minions.ts.

const DAY_MS = 86_400_000;
export const REGISTRATION_DAYS = 30;

/**
 * Everything the overview draws, in one D1 round trip. Each statement is served by an index on probes (cc, platform,
 * last_seen, created) except network type, a scan of narrow rows; see bench/README.md for the figures at 10,000 probes.
 */
export async function fleetOverview(db: Db, now: Date) {
  const since24h = new Date(now.getTime() - DAY_MS).toISOString();
  const since7d = new Date(now.getTime() - 7 * DAY_MS).toISOString();
  const from = `${windowStart(now, REGISTRATION_DAYS)}T00:00:00.000Z`;
  const day = sql<string>`substr(${probes.createdAt}, 1, 10)`;
  const hour = sql<string>`substr(${events.at}, 1, 13)`;
  // Pushes by UTC hour: the 24 whole hours ending with the current one (so the chart's columns hold every count).
  const pushesSince = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 23 * 3_600_000).toISOString();
  const [totals, byCountry, byPlatform, byNetwork, perDay, pushes] = await db.batch([
    db
      .select({
        total: count(),
        // Aliased: D1 returns rows by column name, and two unaliased "(SELECT … >= ?)" columns would collide.
        seen24h: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.lastSeenAt} >= ${since24h})`.as("seen_24h"),
        seen7d: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.lastSeenAt} >= ${since7d})`.as("seen_7d"),
        validTokens: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${pushable()})`.as("valid_tokens"),
        before: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.createdAt} < ${from})`.as("before_window"),
      })
      .from(probes),
    db.select({ key: probes.probeCc, n: count() }).from(probes).groupBy(probes.probeCc),
    db.select({ key: probes.platform, n: count() }).from(probes).groupBy(probes.platform),
    db.select({ key: probes.networkType, n: count() }).from(probes).groupBy(probes.networkType),
    db.select({ day, n: count() }).from(probes).where(gte(probes.createdAt, from)).groupBy(day),
    db
      .select({ hour, type: events.type, n: count() })
      .from(events)
      .where(sql`${events.at} >= ${pushesSince} AND ${startsWith(events.type, "push.")}`)
      .groupBy(hour, events.type),
  ]);
  return { totals: totals[0], byCountry, byPlatform, byNetwork, perDay, pushes };
}

export type CampaignSummary = { id: string; comment: string; kind: string; schedule: string; state: string; next_run_at: string | null };

/** Campaign counts by state, and the active ones with the next run first. */
export async function campaignSummary(db: Db) {
  const [byState, active] = await db.batch([
    db.select({ state: jobs.state, n: count() }).from(jobs).groupBy(jobs.state),
    db
      .select({ id: jobs.id, comment: jobs.comment, kind: jobs.kind, schedule: jobs.schedule, state: jobs.state, next_run_at: jobs.nextRunAt })
      .from(jobs)
      .where(eq(jobs.state, "active"))
      .orderBy(sql`${jobs.nextRunAt} IS NULL`, asc(jobs.nextRunAt))
      .limit(10),
  ]);
  return { byState, active: active as CampaignSummary[] };
}

export type ProbeTask = { id: string; job_id: string; comment: string | null; test_name: string; state: string; created_at: string; updated_at: string };

/** A probe's latest tasks, with their campaign's name. */
export function probeTasks(db: Db, probeId: string): Promise<ProbeTask[]> {
  return db
    .select({
      id: tasks.id,
      job_id: tasks.jobId,
      comment: jobs.comment,
      test_name: tasks.testName,
      state: tasks.state,
      created_at: tasks.createdAt,
      updated_at: tasks.updatedAt,
    })
    .from(tasks)
    .leftJoin(jobs, eq(jobs.id, tasks.jobId))
    .where(eq(tasks.probeId, probeId))
    .orderBy(desc(tasks.createdAt))
    .limit(50)
    .all();
}
