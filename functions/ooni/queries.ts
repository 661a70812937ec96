import { asc, countDistinct, count, eq, max, sql } from "drizzle-orm";
import { testListUrls } from "../../schema/ooni";
import type { Db } from "../lib/db";
import { GLOBAL_CC, type UrlInfo } from "./url-selection";

const inJson = (list: readonly string[]) => sql`(SELECT value FROM json_each(${JSON.stringify(list)}))`;

/**
 * Candidates for one check-in: a random sample of the probe's country list and of the global list, each at
 * most `limit` (global: twice, so URLs both lists share cannot starve it), already filtered by category.
 * Two statements in one round trip; one bound parameter for the categories whatever their number.
 */
export async function urlCandidates(db: Db, probeCc: string, categories: readonly string[], limit: number): Promise<UrlInfo[]> {
  const cols = { url: testListUrls.url, category_code: testListUrls.categoryCode, country_code: testListUrls.countryCode };
  const where = (cc: string) =>
    categories.length ? sql`${testListUrls.countryCode} = ${cc} AND ${testListUrls.categoryCode} IN ${inJson(categories)}` : eq(testListUrls.countryCode, cc);
  if (probeCc === GLOBAL_CC) {
    return db.select(cols).from(testListUrls).where(where(GLOBAL_CC)).orderBy(sql`random()`).limit(limit).all();
  }
  const [national, global] = await db.batch([
    db.select(cols).from(testListUrls).where(where(probeCc)).orderBy(sql`random()`).limit(limit),
    db
      .select(cols)
      .from(testListUrls)
      .where(where(GLOBAL_CC))
      .orderBy(sql`random()`)
      .limit(limit * 2),
  ]);
  return [...national, ...global];
}

/** The category each of these URLs has in the test lists (country first, then global). */
export async function knownCategories(db: Db, probeCc: string, urls: readonly string[]): Promise<Map<string, string>> {
  if (urls.length === 0) return new Map();
  const rows = await db
    .select({ url: testListUrls.url, cc: testListUrls.countryCode, cat: testListUrls.categoryCode })
    .from(testListUrls)
    .where(sql`${testListUrls.url} IN ${inJson(urls)} AND ${testListUrls.countryCode} IN (${probeCc}, ${GLOBAL_CC})`)
    .all();
  const out = new Map<string, string>();
  for (const r of rows.sort((a, b) => (a.cc === probeCc ? -1 : 0) - (b.cc === probeCc ? -1 : 0))) if (!out.has(r.url)) out.set(r.url, r.cat);
  return out;
}

/** One row per imported list: its URL and category counts and when it was last imported. */
export async function listSummaries(db: Db) {
  const rows = await db
    .select({
      country: testListUrls.countryCode,
      urls: count(),
      categories: countDistinct(testListUrls.categoryCode),
      imported_at: max(testListUrls.importedAt),
    })
    .from(testListUrls)
    .groupBy(testListUrls.countryCode)
    .orderBy(asc(testListUrls.countryCode))
    .all();
  return rows.map((r) => ({ ...r, imported_at: r.imported_at ?? "" }));
}

export async function listEntries(db: Db, country: string, limit = 10_000) {
  const rows = await db
    .select()
    .from(testListUrls)
    .where(eq(testListUrls.countryCode, country))
    .orderBy(asc(testListUrls.categoryCode), asc(testListUrls.url))
    .limit(limit)
    .all();
  return rows.map((r) => ({
    url: r.url,
    category_code: r.categoryCode,
    category_description: r.categoryDescription,
    date_added: r.dateAdded,
    source: r.source,
    notes: r.notes,
  }));
}

/** One page of a list for the console (`page` from 1), with the list's size; two statements in one round trip. */
export async function listPage(db: Db, country: string, page: number, pageSize: number) {
  const [rows, total] = await db.batch([
    db
      .select({ url: testListUrls.url, category_code: testListUrls.categoryCode, date_added: testListUrls.dateAdded, source: testListUrls.source })
      .from(testListUrls)
      .where(eq(testListUrls.countryCode, country))
      .orderBy(asc(testListUrls.categoryCode), asc(testListUrls.url))
      .limit(pageSize)
      .offset((page - 1) * pageSize),
    db
      .select({ n: count(), categories: countDistinct(testListUrls.categoryCode), imported_at: max(testListUrls.importedAt) })
      .from(testListUrls)
      .where(eq(testListUrls.countryCode, country)),
  ]);
  return { rows, total: total[0]?.n ?? 0, categories: total[0]?.categories ?? 0, imported_at: total[0]?.imported_at ?? null };
}

/** The console's list of lists: like listSummaries, with the category codes themselves. */
export async function listOverview(db: Db) {
  const rows = await db
    .select({
      country: testListUrls.countryCode,
      urls: count(),
      codes: sql<string | null>`group_concat(DISTINCT ${testListUrls.categoryCode})`,
      imported_at: max(testListUrls.importedAt),
    })
    .from(testListUrls)
    .groupBy(testListUrls.countryCode)
    .orderBy(asc(testListUrls.countryCode))
    .all();
  return rows.map((r) => ({ country: r.country, urls: r.urls, category_codes: (r.codes ?? "").split(",").filter(Boolean).sort(), imported_at: r.imported_at }));
}
