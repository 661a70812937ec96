// The audit log's hash chain, as pure functions with no imports: the Worker (store, verify route) and
// scripts/audit-verify.mjs (which transpiles this file with TypeScript) run the very same code.

/** One audit row as stored (snake_case, as D1 and `wrangler d1 execute --json` return it). */
export type ChainRow = {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject_kind: string;
  subject_id: string;
  /** Canonical JSON text, hashed as stored. */
  data: string;
  prev_hash: string | null;
  hash: string | null;
};

/** Where a chain (or a page of it) starts: after `seq` whose hash is `hash`. The log's own start is GENESIS. */
export type ChainAnchor = { seq: number; hash: string };
export const GENESIS: ChainAnchor = { seq: 0, hash: "0".repeat(64) };

const DOMAIN = "edge-orchestra.audit.v1";

/** JSON with object keys sorted at every depth: one text per value, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/**
 * The bytes a row's hash covers: a JSON array of a domain tag, every content field and the previous hash.
 * A JSON array of strings and an integer has exactly one encoding, and no field can bleed into another.
 */
export function canonicalEntry(r: Omit<ChainRow, "hash" | "prev_hash">, prevHash: string): string {
  return JSON.stringify([DOMAIN, r.seq, r.at, r.actor, r.action, r.subject_kind, r.subject_id, r.data, prevHash]);
}

/** Lowercase hex SHA-256 of the row's canonical encoding chained to `prevHash`. */
export async function entryHash(r: Omit<ChainRow, "hash" | "prev_hash">, prevHash: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonicalEntry(r, prevHash)));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export type Seal = { seq: number; prev_hash: string; hash: string };

/**
 * The seals for unsealed rows following `anchor`, in seq order. Stops at the first gap (a row not at anchor + 1):
 * a gap is never papered over, verification reports it.
 */
export async function sealsFor(anchor: ChainAnchor, pending: readonly ChainRow[]): Promise<Seal[]> {
  const out: Seal[] = [];
  let prev = anchor;
  for (const r of pending) {
    if (r.seq !== prev.seq + 1 || r.hash !== null) break;
    const hash = await entryHash(r, prev.hash);
    out.push({ seq: r.seq, prev_hash: prev.hash, hash });
    prev = { seq: r.seq, hash };
  }
  return out;
}

export type ChainProblem = { seq: number; reason: string };

export type ChainCheck = {
  /** The last seq of an unbroken, verified prefix, and its hash: the anchor for the next page. */
  verified: ChainAnchor;
  /** Appended rows not yet sealed, all after `verified` (only allowed at the end of the log). */
  pending: number;
  /** The first row that breaks the chain, if any; nothing after it is trusted. */
  problem: ChainProblem | null;
};

/**
 * Verify rows in seq order, continuing from `anchor` (GENESIS for the whole log). Catches a changed field (hash
 * mismatch), a deleted or reordered row (seq not contiguous or prev_hash not the previous hash), a forged hash, and
 * a sealed row after an unsealed one. Pass `state` from the previous page to verify page by page.
 */
export async function verifyChain(rows: readonly ChainRow[], state: ChainCheck = { verified: GENESIS, pending: 0, problem: null }): Promise<ChainCheck> {
  if (state.problem) return state;
  let verified = state.verified;
  let pending = state.pending;
  let expectSeq = verified.seq + pending + 1;
  for (const r of rows) {
    const fail = (reason: string): ChainCheck => ({ verified, pending, problem: { seq: r.seq, reason } });
    if (r.seq !== expectSeq)
      return {
        verified,
        pending,
        problem: { seq: Math.min(r.seq, expectSeq), reason: r.seq > expectSeq ? `seq ${expectSeq} is missing` : `seq ${r.seq} is out of order` },
      };
    expectSeq++;
    if (r.hash === null) {
      if (r.prev_hash !== null) return fail("has a prev_hash but no hash");
      pending++;
      continue;
    }
    if (pending > 0) return fail(`sealed after ${pending} unsealed row(s)`);
    if (r.prev_hash !== verified.hash) return fail("prev_hash is not the previous row's hash");
    if ((await entryHash(r, verified.hash)) !== r.hash) return fail("hash does not match the row's content");
    verified = { seq: r.seq, hash: r.hash };
  }
  return { verified, pending, problem: null };
}
