import { and, asc, desc, eq, gt, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import { auditLog } from "../../schema/audit";
import type { EventSubject } from "../events/store";
import type { Db } from "../lib/db";
import { errorText, log } from "../lib/log";
import { type ChainAnchor, type ChainRow, canonicalJson, GENESIS, sealsFor } from "./chain";

// Audit writes (docs/audit.md, docs/decisions/0010-audit-append-then-seal.md). An append is ONE statement that
// takes seq = MAX(seq) + 1 inside itself, so it can sit in the batch of the change it records and never races:
// D1 runs a database's statements one at a time, and seq is the primary key besides. The hash chain is filled
// afterwards by `sealAudit`, in seq order, from the previous row's hash: sealing is deterministic and
// idempotent, so any number of sealers (the appender, the minute cron, a reader) may run at once.

export type AuditEntry = {
  at: string;
  /** Dotted, surface first: `operator.created`, `login.succeeded`, `lease.issued`, `mesh.certificate.revoked`. */
  action: string;
  /** "operator:<username>", "probe:<id>", "system"; "anonymous" for a failed login. */
  actor: string;
  subject: EventSubject;
  data?: Record<string, unknown>;
};

const nextSeq = sql`(SELECT COALESCE(MAX(${auditLog.seq}), 0) + 1 FROM ${auditLog})`;

/**
 * The one way to append: a statement for the `db.batch()` of the change it records. With `when` (e.g.
 * sql`changes() = 1` placed right after the guarded statement or its guarded event), the entry is written only
 * when that holds, so a guarded no-op leaves no audit row.
 */
export function auditInsert(db: Db, e: AuditEntry, when?: SQL) {
  const values = [nextSeq, e.at, e.actor, e.action, e.subject.kind, e.subject.id, canonicalJson(e.data ?? {}), sql`NULL`, sql`NULL`];
  // drizzle's INSERT … SELECT lists every column in table order (seq, at, actor, action, subject, data, prev_hash, hash).
  return db.insert(auditLog).select(sql`SELECT ${sql.join(values, sql`, `)} ${when ? sql`WHERE ${when}` : sql``}`);
}

/**
 * Appends one entry on its own (when there is no change to batch it with, e.g. a login) and seals it: after the
 * response when `ctx` is given, else before returning. The append itself is awaited: an action that cannot be
 * audited fails rather than goes unrecorded.
 */
export async function recordAudit(db: Db, e: AuditEntry, ctx?: Pick<ExecutionContext, "waitUntil">): Promise<void> {
  await auditInsert(db, e);
  if (ctx) ctx.waitUntil(sealAuditSafely(db));
  else await sealAuditSafely(db);
}

const SEAL_PAGE = 200;

/** The last sealed row: the anchor every unsealed row after it chains from. */
async function lastSealed(db: Db): Promise<ChainAnchor> {
  const row = await db
    .select({ seq: auditLog.seq, hash: auditLog.hash })
    .from(auditLog)
    .where(isNotNull(auditLog.hash))
    .orderBy(desc(auditLog.seq))
    .limit(1)
    .get();
  return row?.hash ? { seq: row.seq, hash: row.hash } : GENESIS;
}

/**
 * Seal every appended row, page by page: set prev_hash and hash from the previous row's hash. Returns how many
 * rows this call sealed. Stops at a gap (never chains across a missing seq; verification names it).
 */
export async function sealAudit(db: Db, maxPages = 50): Promise<number> {
  let sealed = 0;
  for (let page = 0; page < maxPages; page++) {
    const anchor = await lastSealed(db);
    const pending = (await db.select().from(auditLog).where(gt(auditLog.seq, anchor.seq)).orderBy(asc(auditLog.seq)).limit(SEAL_PAGE).all()).map(toChainRow);
    if (pending.length === 0) return sealed;
    const seals = await sealsFor(anchor, pending);
    if (seals.length === 0) {
      log.warn("audit", "audit log cannot be sealed past a gap", { after_seq: anchor.seq, next_seq: pending[0].seq });
      return sealed;
    }
    // `hash IS NULL`: a concurrent sealer that got there first wrote the same values; this one changes nothing.
    await db.batch(
      seals.map((s) =>
        db
          .update(auditLog)
          .set({ prevHash: s.prev_hash, hash: s.hash })
          .where(and(eq(auditLog.seq, s.seq), isNull(auditLog.hash))),
      ) as unknown as Parameters<typeof db.batch>[0],
    );
    sealed += seals.length;
    if (pending.length < SEAL_PAGE) return sealed;
  }
  return sealed;
}

/** Sealing after a response or in the cron: a failure is logged and left to the next sealer, never thrown at a client. */
export async function sealAuditSafely(db: Db): Promise<void> {
  try {
    await sealAudit(db);
  } catch (e) {
    log.error("audit", "audit seal failed", { error: errorText(e) });
  }
}

export function toChainRow(r: typeof auditLog.$inferSelect): ChainRow {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject_kind: r.subjectKind,
    subject_id: r.subjectId,
    data: r.data,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}
