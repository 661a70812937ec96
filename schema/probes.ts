import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** A registered probe or field device (OONI's active_probes). The id is the client_id handed to the probe. */
export const probes = sqliteTable(
  "probes",
  {
    id: text("id").primaryKey(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastSeenAt: text("last_seen_at").notNull(),
    probeCc: text("probe_cc").notNull(),
    probeAsn: text("probe_asn").notNull(),
    platform: text("platform").notNull(),
    softwareName: text("software_name").notNull(),
    softwareVersion: text("software_version").notNull(),
    /** JSON array of test names. */
    supportedTests: text("supported_tests").notNull().default("[]"),
    networkType: text("network_type"),
    availableBandwidth: text("available_bandwidth"),
    language: text("language"),
    probeFamily: text("probe_family"),
    probeId: text("probe_id"),
    /** Push device token (FCM registration token, APNs device token), or null when the probe has none. */
    pushToken: text("push_token"),
    /** none | valid | expired: expired once a provider reported the token dead. */
    pushTokenState: text("push_token_state", { enum: ["none", "valid", "expired"] })
      .notNull()
      .default("none"),
    pushTokenUpdatedAt: text("push_token_updated_at"),
    /** Null for probes registered without a password (the seed's original flow). See docs/decisions/0002. */
    passwordHash: text("password_hash"),
    /**
     * How a retried registration finds this probe (functions/probes/replay.ts): HMAC of the Idempotency-Key, or of
     * the canonical body when it carries a secret or a push token. Null when neither was sent. Unique: of two
     * concurrent identical registrations only one commits.
     */
    registerKey: text("register_key"),
    /** HMAC of the canonical register body: the same key with a different body is refused (422). */
    registerFingerprint: text("register_fingerprint"),
  },
  (t) => [
    index("probes_created_idx").on(t.createdAt, t.id),
    index("probes_cc_idx").on(t.probeCc),
    index("probes_asn_idx").on(t.probeAsn),
    index("probes_platform_idx").on(t.platform),
    index("probes_last_seen_idx").on(t.lastSeenAt),
    index("probes_token_state_idx").on(t.pushTokenState),
    uniqueIndex("probes_register_key_idx").on(t.registerKey),
  ],
);

/** Append-only metadata history: one row per register and per update. */
export const probeUpdates = sqliteTable(
  "probe_updates",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    probeId: text("probe_id")
      .notNull()
      .references(() => probes.id, { onDelete: "cascade" }),
    at: text("at").notNull(),
    updateType: text("update_type", { enum: ["register", "update"] }).notNull(),
    /** JSON: the metadata as it stood after this change (push token redacted to its state). */
    snapshot: text("snapshot").notNull(),
    /** JSON array of the field names that changed. */
    changed: text("changed").notNull().default(sql`'[]'`),
  },
  (t) => [index("probe_updates_probe_idx").on(t.probeId, t.id)],
);

export type ProbeRow = typeof probes.$inferSelect;
export type NewProbeRow = typeof probes.$inferInsert;
