import type { BatchItem, BatchResponse } from "drizzle-orm/batch";

import { type Db, dbFrom } from "./db";

import { commitFailure, isStatementError, outcomeUnknown } from "./d1-errors";
import { GroupCommit } from "./group-commit";

export { isStatementError };

/** A non-empty list of drizzle statements for one atomic D1 batch. */
export type Statements = readonly [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];

/** Commit `stmts` atomically and return their results: the hot write paths' one D1 round trip, shared under load. */
export type Commit = <T extends Statements>(stmts: T) => Promise<BatchResponse<T>>;

/** How long a member waits for its shared batch by default (COMMIT_WAIT_MS). */
export const DEFAULT_COMMIT_WAIT_MS = 25_000;

/** Statements per shared batch; with a retry of each member alone a leader runs at most twice this (D1 Free: 50 queries per invocation). */
export const MAX_GROUP_STATEMENTS = 24;

/** One member's results, and how many requests shared the round trip that committed them. */
type Committed = { results: unknown[]; sharedBy: number };

const groups = new WeakMap<D1Database, GroupCommit<Statements, Committed>>();

function groupFor(d1: D1Database): GroupCommit<Statements, Committed> {
  let g = groups.get(d1);
  if (!g) {
    const db = dbFrom(d1);
    g = new GroupCommit<Statements, Committed>({
      maxStatements: MAX_GROUP_STATEMENTS,
      exec: async (items) => {
        const flat = items.flat() as unknown as Statements;
        const results = (await db.batch(flat)) as readonly unknown[];
        let at = 0;
        return items.map((stmts) => {
          const mine = results.slice(at, at + stmts.length);
          at += stmts.length;
          return { results: mine, sharedBy: items.length };
        });
      },
      execOne: async (stmts) => ({ results: [...((await db.batch(stmts)) as readonly unknown[])], sharedBy: 1 }),
      isolatable: isStatementError,
      previousFlushWaitMs: 5_000,
      memberWaitMs: DEFAULT_COMMIT_WAIT_MS,
      // The batch may still commit after this member stops waiting: its client is told the outcome is unknown.
      stalled: () => outcomeUnknown(),
    });
    groups.set(d1, g);
  }
  return g;
}

/** The group-commit statistics of one database binding in this isolate (for tests and benchmarks). */
export function groupCommitStats(d1: D1Database) {
  return groupFor(d1).stats;
}

/**
 * A Commit for one request: `keepAlive` is its `waitUntil`, which carries a leader's flush to the end;
 * `onCommitted` learns how many requests shared the round trip (the API reports it in `Server-Timing`).
 */
export function d1Commit(
  d1: D1Database,
  keepAlive: (work: Promise<unknown>) => void,
  onCommitted: (sharedBy: number) => void = () => {},
  waitMs = DEFAULT_COMMIT_WAIT_MS,
): Commit {
  return async <T extends Statements>(stmts: T) => {
    let committed: Committed;
    try {
      committed = await groupFor(d1).submit(stmts, stmts.length, keepAlive, waitMs);
    } catch (e) {
      throw commitFailure(e);
    }
    onCommitted(committed.sharedBy);
    return committed.results as BatchResponse<T>;
  };
}

/** A Commit without sharing (GROUP_COMMIT = "off"): each request's statements are their own batch on its own `db`. */
export function soloCommit(db: Db, onCommitted: (sharedBy: number) => void = () => {}): Commit {
  return async <T extends Statements>(stmts: T) => {
    let results: BatchResponse<T>;
    try {
      results = await db.batch(stmts);
    } catch (e) {
      throw commitFailure(e);
    }
    onCommitted(1);
    return results as BatchResponse<T>;
  };
}
