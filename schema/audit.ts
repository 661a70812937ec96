import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The tamper-evident audit log (docs/audit.md): operator actions, logins, lease and certificate issuance and
 * revocation. Append-only and hash-chained; never pruned by retention. Written only through
 * functions/audit/store.ts: an append assigns `seq` (MAX + 1 in the same statement), and the sealer fills
 * `prev_hash` and `hash` in seq order (functions/audit/chain.ts). A row with `hash` NULL is appended but not yet sealed.
 */
export const auditLog = sqliteTable("audit_log", {
  /** 1, 2, 3... without gaps; the INTEGER PRIMARY KEY, so it is unique and MAX(seq) is one index lookup. */
  seq: integer("seq").primaryKey(),
  at: text("at").notNull(),
  /** Who acted: "operator:<username>", "probe:<id>", "member:<id>", "system", or for a failed login "anonymous". */
  actor: text("actor").notNull(),
  /** Dotted, surface first, like event types: `operator.created`, `login.succeeded`, `lease.issued`. */
  action: text("action").notNull(),
  subjectKind: text("subject_kind").notNull(),
  subjectId: text("subject_id").notNull(),
  /** Canonical JSON (keys sorted), exactly the text the hash covers. */
  data: text("data").notNull(),
  prevHash: text("prev_hash"),
  hash: text("hash"),
});

export type AuditRow = typeof auditLog.$inferSelect;
