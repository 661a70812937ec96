import { asc, count, desc, gt, lt } from "drizzle-orm";
import { auditLog } from "../../schema/audit";
import type { Db } from "../lib/db";
import { type ChainCheck, GENESIS, verifyChain } from "./chain";
import { toChainRow } from "./store";

/** Entries after `afterSeq`, oldest first (the export order: a client resumes from the last seq it kept). */
export async function auditPage(db: Db, afterSeq: number, limit: number) {
  const rows = await db.select().from(auditLog).where(gt(auditLog.seq, afterSeq)).orderBy(asc(auditLog.seq)).limit(limit).all();
  return rows.map(toChainRow);
}

/** The newest entries first, for the console. */
export async function latestAudit(db: Db, beforeSeq: number | null, limit: number) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(beforeSeq === null ? undefined : lt(auditLog.seq, beforeSeq))
    .orderBy(desc(auditLog.seq))
    .limit(limit)
    .all();
  return rows.map(toChainRow);
}

export async function auditCount(db: Db): Promise<number> {
  const row = await db.select({ n: count() }).from(auditLog).get();
  return row?.n ?? 0;
}

const VERIFY_PAGE = 500;

/** Recompute the whole chain from the database, page by page (functions/audit/chain.ts verifyChain). */
export async function verifyStoredChain(db: Db): Promise<ChainCheck> {
  let state: ChainCheck = { verified: GENESIS, pending: 0, problem: null };
  let after = 0;
  for (;;) {
    const rows = await auditPage(db, after, VERIFY_PAGE);
    state = await verifyChain(rows, state);
    if (state.problem || rows.length < VERIFY_PAGE) return state;
    after = rows[rows.length - 1].seq;
  }
}
