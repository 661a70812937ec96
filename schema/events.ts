import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The append-only event history shared by every surface: probe registrations and updates, campaign
 * changes, runs, notifications with the provider's answer, task transitions, minion changes, and the
 * school and mesh surfaces' own. Written only through functions/events/store.ts.
 * The integer id is the pagination cursor (monotonic within D1).
 */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: text("at").notNull(),
    type: text("type").notNull(),
    /** Who caused it: "operator:<username>", "probe:<id>", "system". */
    actor: text("actor").notNull(),
    /** What the event is about (generic across surfaces): kind ("probe", "job", "task", "minion", "operator", ...) and id. */
    subjectKind: text("subject_kind").notNull().default("system"),
    subjectId: text("subject_id").notNull().default(""),
    /** Cross-references for the probe and campaign views (indexed); the subject says what the event is about. */
    jobId: text("job_id"),
    probeId: text("probe_id"),
    taskId: text("task_id"),
    /** JSON object with the event's details. */
    data: text("data").notNull().default("{}"),
  },
  (t) => [
    index("events_at_idx").on(t.at),
    index("events_job_idx").on(t.jobId, t.id),
    index("events_probe_idx").on(t.probeId, t.id),
    index("events_type_idx").on(t.type, t.id),
    index("events_subject_idx").on(t.subjectKind, t.subjectId, t.id),
  ],
);

export type EventRow = typeof events.$inferSelect;
