import { count, gte, type SQL, sql } from "drizzle-orm";
import { events } from "../../schema/events";
import { probes } from "../../schema/probes";
import type { Db } from "../lib/hono";
import { windowStart } from "./lib/aggregate";

// The console's own reads (aggregates no API route serves). Lists and details reuse functions/probes/queries.ts
// and functions/events/queries.ts.

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
  const [totals, byCountry, byPlatform, byNetwork, perDay, pushes] = await db.batch([
    db
      .select({
        total: count(),
        // Aliased: D1 returns rows by column name, and two unaliased "(SELECT … >= ?)" columns would collide.
        seen24h: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.lastSeenAt} >= ${since24h})`.as("seen_24h"),
        seen7d: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.lastSeenAt} >= ${since7d})`.as("seen_7d"),
        validTokens: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.pushTokenState} = 'valid')`.as("valid_tokens"),
        before: sql<number>`(SELECT COUNT(*) FROM ${probes} WHERE ${probes.createdAt} < ${from})`.as("before_window"),
      })
      .from(probes),
    db.select({ key: probes.probeCc, n: count() }).from(probes).groupBy(probes.probeCc),
    db.select({ key: probes.platform, n: count() }).from(probes).groupBy(probes.platform),
    db.select({ key: probes.networkType, n: count() }).from(probes).groupBy(probes.networkType),
    db.select({ day, n: count() }).from(probes).where(gte(probes.createdAt, from)).groupBy(day),
    db
      .select({ type: events.type, n: count() })
      .from(events)
      .where(sql`${events.at} >= ${since24h} AND ${events.type} LIKE 'push.%'`)
      .groupBy(events.type),
  ]);
  return { totals: totals[0], byCountry, byPlatform, byNetwork, perDay, pushes };
}

/** A read of a table another surface owns and may not have deployed yet: null when the table does not exist. */
export async function optional<T>(db: Db, query: SQL): Promise<T[] | null> {
  try {
    return (await db.all(query)) as T[];
  } catch (e) {
    if (/no such table/i.test(String((e as Error)?.message ?? e) + String((e as any)?.cause?.message ?? ""))) return null;
    throw e;
  }
}

export type CampaignSummary = { id: string; comment: string; kind: string; schedule: string; state: string; next_run_at: string | null };

/** Campaign counts by state and the next active/paused ones (from the campaigns surface's `jobs` table, when present). */
export async function campaignSummary(db: Db) {
  const [byState, upcoming] = await Promise.all([
    optional<{ state: string; n: number }>(db, sql`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`),
    optional<CampaignSummary>(
      db,
      sql`SELECT id, comment, kind, schedule, state, next_run_at FROM jobs WHERE state IN ('active', 'paused')
          ORDER BY next_run_at IS NULL, next_run_at LIMIT 10`,
    ),
  ]);
  if (byState === null || upcoming === null) return null;
  return { byState, upcoming };
}

export type ProbeTask = { id: string; job_id: string; test_name: string; state: string; created_at: string; updated_at: string };

/** A probe's latest tasks (from the campaigns surface's `tasks` table, when present). */
export function probeTasks(db: Db, probeId: string) {
  return optional<ProbeTask>(
    db,
    sql`SELECT id, job_id, test_name, state, created_at, updated_at FROM tasks WHERE probe_id = ${probeId}
        ORDER BY created_at DESC LIMIT 50`,
  );
}
