import { index, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The URLs check-in hands out when no campaign supplies them: Citizen Lab test lists, one per country plus the
 * global one (stored as country "XX", which is also how OONI's backend labels global entries on the wire).
 */
export const testListUrls = sqliteTable(
  "test_list_urls",
  {
    countryCode: text("country_code").notNull(),
    url: text("url").notNull(),
    categoryCode: text("category_code").notNull(),
    categoryDescription: text("category_description").notNull().default(""),
    dateAdded: text("date_added").notNull().default(""),
    source: text("source").notNull().default(""),
    notes: text("notes").notNull().default(""),
    importedAt: text("imported_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.countryCode, t.url] }), index("test_list_urls_cc_cat_idx").on(t.countryCode, t.categoryCode)],
);

/**
 * A report_id tied to a campaign run: handed out at check-in ("checkin"), or opened through the relayed
 * `POST /report` by a probe that had just checked in for that run ("opened"). Later submissions carrying it are
 * recorded on the run.
 */
export const campaignReports = sqliteTable(
  "campaign_reports",
  {
    reportId: text("report_id").notNull(),
    jobId: text("job_id").notNull(),
    runId: text("run_id").notNull(),
    source: text("source", { enum: ["checkin", "opened"] }).notNull(),
    /** The probe, when its check-in carried its own token; stock probe-cli checks in anonymously. */
    probeId: text("probe_id"),
    probeCc: text("probe_cc").notNull(),
    probeAsn: text("probe_asn").notNull(),
    softwareName: text("software_name").notNull(),
    softwareVersion: text("software_version").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.reportId, t.jobId] }),
    index("campaign_reports_run_idx").on(t.jobId, t.runId, t.source),
    index("campaign_reports_match_idx").on(t.probeCc, t.probeAsn, t.softwareName, t.createdAt),
  ],
);

/** A measurement a campaign run produced: the upstream's measurement_uid for a submission with a run's report_id. */
export const campaignMeasurements = sqliteTable(
  "campaign_measurements",
  {
    measurementUid: text("measurement_uid").notNull(),
    jobId: text("job_id").notNull(),
    runId: text("run_id").notNull(),
    reportId: text("report_id").notNull(),
    /** The URL measured (the measurement's `input`), when it had one. */
    input: text("input"),
    probeCc: text("probe_cc").notNull(),
    probeAsn: text("probe_asn").notNull(),
    submittedAt: text("submitted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.measurementUid, t.jobId] }), index("campaign_measurements_run_idx").on(t.jobId, t.runId, t.submittedAt)],
);

export type TestListUrlRow = typeof testListUrls.$inferSelect;
export type CampaignReportRow = typeof campaignReports.$inferSelect;
export type CampaignMeasurementRow = typeof campaignMeasurements.$inferSelect;
