import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Where each resumable pruning sweep of the retention cron stands (functions/retention/store.ts). A table whose
 * old rows cannot be found from an index (probe_updates keeps each probe's latest row, however old) is swept in id
 * windows across cron runs; `cursor` is the last id examined, `rest_until` the time the next sweep may start.
 */
export const retentionSweeps = sqliteTable("retention_sweeps", {
  name: text("name").primaryKey(),
  cursor: integer("cursor").notNull().default(0),
  restUntil: text("rest_until"),
  updatedAt: text("updated_at").notNull(),
});
