/**
 * A D1 binding that fails on purpose, for fault tests: installed in place of `env.DB` in the env a test hands to
 * `createApp().fetch(request, env)` (the app builds every service from that env, functions/lib/hono.ts).
 *
 * Every call that reaches the database counts: a prepared statement's first/run/all/raw, a batch, an exec. The
 * `failAt`-th call throws what D1 throws when it is unreachable, either `before` running (nothing applied) or `after`
 * running (applied, but the answer lost: the outcome the client cannot know). `hold` delays every batch until it
 * settles (a slow database), and `beforeBatch` runs once just before the first batch (to race another writer in).
 */
export type FaultPlan = {
  failAt?: number;
  when?: "before" | "after";
  hold?: Promise<unknown>;
  beforeBatch?: () => Promise<unknown>;
};

export const D1_UNREACHABLE = "D1_ERROR: Network connection lost.";

export type FaultyD1 = {
  db: D1Database;
  /** Database calls made so far. */
  calls: () => number;
  /** Whether the planned failure fired. */
  fired: () => boolean;
  /** Every batch started, settled or not (await them to let held batches finish). */
  batches: Promise<unknown>[];
};

export function faultyD1(real: D1Database, plan: FaultPlan = {}): FaultyD1 {
  let n = 0;
  let fired = false;
  let raced = false;
  const batches: Promise<unknown>[] = [];

  async function hook<T>(run: () => Promise<T>): Promise<T> {
    n++;
    const failing = n === plan.failAt;
    if (failing && (plan.when ?? "before") === "before") {
      fired = true;
      throw new Error(D1_UNREACHABLE);
    }
    const result = await run();
    if (failing) {
      fired = true;
      throw new Error(D1_UNREACHABLE);
    }
    return result;
  }

  class Statement {
    constructor(readonly real: D1PreparedStatement) {}
    bind(...values: unknown[]) {
      return new Statement(this.real.bind(...values));
    }
    first(column?: string) {
      return hook(() => (column === undefined ? this.real.first() : this.real.first(column)));
    }
    run() {
      return hook(() => this.real.run());
    }
    all() {
      return hook(() => this.real.all());
    }
    raw(options?: { columnNames?: boolean }) {
      return hook(() => this.real.raw(options as { columnNames: true }));
    }
  }

  const db = {
    prepare: (query: string) => new Statement(real.prepare(query)),
    batch: (stmts: Statement[]) => {
      const p = (async () => {
        if (plan.beforeBatch && !raced) {
          raced = true;
          await plan.beforeBatch();
        }
        if (plan.hold) await plan.hold;
        return hook(() => real.batch(stmts.map((s) => s.real)));
      })();
      batches.push(p.catch(() => undefined));
      return p;
    },
    exec: (query: string) => hook(() => real.exec(query)),
    dump: () => real.dump(),
    withSession: () => db,
  };
  return { db: db as unknown as D1Database, calls: () => n, fired: () => fired, batches };
}
