import { eq, sql } from "drizzle-orm";
import { testListUrls } from "../../schema/ooni";
import { auditInsert } from "../audit/store";
import { eventInsert } from "../events/store";
import type { Db } from "../lib/db";
import type { TestListEntry } from "./test-list-csv";

/** Rows per INSERT: each is one JSON text bound as one parameter, kept well under D1's statement size limits. */
const ROWS_PER_STATEMENT = 2000;

/**
 * Replacing one country's list, as one atomic `db.batch()`: delete it, insert the new rows from JSON texts
 * (`json_each`, one bound parameter per chunk, so D1's 100-parameter limit never bites), record the event.
 */
export function replaceListWrites(db: Db, country: string, entries: readonly TestListEntry[], at: string, actor: string, replaced: number) {
  const chunks: TestListEntry[][] = [];
  for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT) chunks.push(entries.slice(i, i + ROWS_PER_STATEMENT));
  return [
    db.delete(testListUrls).where(eq(testListUrls.countryCode, country)),
    ...chunks.map((chunk) =>
      // Columns in the table's order: country_code, url, category_code, category_description, date_added, source, notes, imported_at.
      db
        .insert(testListUrls)
        .select(sql`SELECT ${country}, json_extract(value, '$.url'), json_extract(value, '$.category_code'), json_extract(value, '$.category_description'),
               json_extract(value, '$.date_added'), json_extract(value, '$.source'), json_extract(value, '$.notes'), ${at}
        FROM json_each(${JSON.stringify(chunk)})`),
    ),
    eventInsert(db, {
      at,
      type: "ooni.test_list.imported",
      actor,
      subject: { kind: "system", id: `test_list:${country}` },
      data: { country, urls: entries.length, replaced },
    }),
    auditInsert(db, {
      at,
      action: "ooni.test_list.imported",
      actor,
      subject: { kind: "system", id: `test_list:${country}` },
      data: { country, urls: entries.length, replaced },
    }),
  ];
}

export function deleteListWrites(db: Db, country: string, at: string, actor: string, removed: number) {
  return [
    db.delete(testListUrls).where(eq(testListUrls.countryCode, country)),
    eventInsert(db, { at, type: "ooni.test_list.deleted", actor, subject: { kind: "system", id: `test_list:${country}` }, data: { country, removed } }),
    auditInsert(db, { at, action: "ooni.test_list.deleted", actor, subject: { kind: "system", id: `test_list:${country}` }, data: { country, removed } }),
  ];
}
