import { and, asc, count, desc, eq, gt, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { probes, probeUpdates } from "../../schema/probes";
import type { ClientListQuery } from "../../schema/probes-api";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import type { Db } from "../lib/db";
import { clientIdKey } from "../lib/ids";
import { inJsonList } from "../lib/sql-lists";

// Probe reads shared by the admin API (functions/probes/admin-routes.ts) and the console (functions/console/).

/**
 * The WHERE conditions of a client filter (shared by the list, its counts and campaign targeting previews). Each
 * list is one bound parameter (lib/sql-lists.ts), so filters of up to 500 values stay under D1's 100 per statement.
 */
export function clientFilter(q: ClientListQuery): SQL[] {
  const conds: SQL[] = [];
  const countries = [...(q.country ?? []), ...(q.country_code ?? [])];
  if (countries.length) conds.push(inJsonList(probes.probeCc, countries));
  if (q.asn?.length) conds.push(inJsonList(probes.probeAsn, q.asn));
  if (q.platform?.length) conds.push(inJsonList(probes.platform, q.platform));
  if (q.network_type?.length) conds.push(inJsonList(probes.networkType, q.network_type));
  if (q.software_name?.length) conds.push(inJsonList(probes.softwareName, q.software_name));
  if (q.software_version?.length) conds.push(inJsonList(probes.softwareVersion, q.software_version));
  if (q.token_state?.length) conds.push(inJsonList(probes.pushTokenState, q.token_state));
  if (q.last_seen_after) conds.push(gte(probes.lastSeenAt, new Date(q.last_seen_after).toISOString()));
  if (q.last_seen_before) conds.push(lt(probes.lastSeenAt, new Date(q.last_seen_before).toISOString()));
  return conds;
}

/**
 * One page of probes matching a filter (oldest first, keyset-paginated on (created_at, id)), the filter's total,
 * and its breakdown by country: one D1 round trip. `withCountries: false` skips the breakdown.
 */
export async function listProbes(db: Db, q: ClientListQuery, opts: { withCountries?: boolean } = {}) {
  const filter = clientFilter(q);
  const page = [...filter];
  if (q.cursor) {
    const [createdAt, id] = decodeCursor(q.cursor, 2) as [string, string];
    page.push(or(gt(probes.createdAt, createdAt), and(eq(probes.createdAt, createdAt), gt(probes.id, id)))!);
  }
  const where = filter.length ? and(...filter) : undefined;
  const rowsQ = db
    .select()
    .from(probes)
    .where(page.length ? and(...page) : undefined)
    .orderBy(asc(probes.createdAt), asc(probes.id))
    .limit(q.limit + 1);
  const totalQ = db.select({ n: count() }).from(probes).where(where);
  const countriesQ = db
    .select({ probe_cc: probes.probeCc, count: count() })
    .from(probes)
    .where(where)
    .groupBy(probes.probeCc)
    .orderBy(desc(count()), asc(probes.probeCc));
  const [rows, total, countries] = opts.withCountries === false ? [...(await db.batch([rowsQ, totalQ])), []] : await db.batch([rowsQ, totalQ, countriesQ]);
  const more = rows.length > q.limit;
  const results = rows.slice(0, q.limit);
  const last = results[results.length - 1];
  return {
    results,
    total: total[0]?.n ?? 0,
    countries,
    nextCursor: more && last ? encodeCursor([last.createdAt, last.id]) : null,
  };
}

/** One probe and its metadata history (newest change first), or null when it is not registered. */
export async function probeWithHistory(db: Db, clientId: string, historyLimit = 200) {
  const id = clientIdKey(clientId); // adopted OONI ids are case-sensitive; UUIDs are stored in lower case
  const [row, updates] = await db.batch([
    db.select().from(probes).where(eq(probes.id, id)),
    db.select().from(probeUpdates).where(eq(probeUpdates.probeId, id)).orderBy(desc(probeUpdates.id)).limit(historyLimit),
  ]);
  if (!row[0]) return null;
  return {
    probe: row[0],
    updates: updates.map((u) => ({
      at: u.at,
      update_type: u.updateType,
      changed: JSON.parse(u.changed) as string[],
      snapshot: JSON.parse(u.snapshot) as Record<string, unknown>,
    })),
  };
}

export type FleetValue = { value: string; n: number };
export type FleetValues = Record<"countries" | "asns" | "platforms" | "network_types" | "software_names" | "supported_tests", FleetValue[]>;

/** The ASN picker lists the most common networks only (a fleet can span thousands); others can be typed. */
export const ASN_CHOICES = 300;

/**
 * The values present in the fleet, most common first, for the campaign form's target pickers. One batch: the
 * country, ASN and platform counts come from their indexes; network type, software and supported tests scan.
 */
export async function fleetValues(db: Db): Promise<FleetValues> {
  const by = (col: SQLiteColumn, limit = 1000) =>
    db
      .select({ value: sql<string>`${col}`, n: count() })
      .from(probes)
      .where(sql`${col} IS NOT NULL AND ${col} != ''`)
      .groupBy(col)
      .orderBy(desc(count()), col)
      .limit(limit);
  const [countries, asns, platforms, networkTypes, software, tests] = await db.batch([
    by(probes.probeCc),
    by(probes.probeAsn, ASN_CHOICES),
    by(probes.platform),
    by(probes.networkType, 50),
    by(probes.softwareName, 100),
    db.all<FleetValue>(
      sql`SELECT t.value AS value, COUNT(*) AS n FROM ${probes}, json_each(${probes.supportedTests}) AS t GROUP BY t.value ORDER BY n DESC, t.value LIMIT 100`,
    ),
  ]);
  return { countries, asns, platforms, network_types: networkTypes, software_names: software, supported_tests: tests as FleetValue[] };
}
