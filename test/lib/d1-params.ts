import { env } from "cloudflare:workers";

/** Production D1's limit on bound parameters per statement (local D1 does not enforce it). */
export const D1_MAX_PARAMS = 100;

export type BoundStatement = { sql: string; params: number };

type Watch = {
  /** Every statement bound while watching, in order, from any caller in this isolate (routes, Durable Objects, cron). */
  statements: BoundStatement[];
  /** The largest number of parameters one statement bound. */
  max(): number;
  /** Statements over the limit. */
  over(): BoundStatement[];
  stop(): void;
};

/**
 * Counts the bound parameters of every D1 statement, as production D1 would, by wrapping the D1 binding's
 * `bind` (the Worker, its Durable Objects and the test share one isolate and one D1 class in this pool). A
 * statement over the limit also fails as it would in production, so a route or an alarm that breaks it fails
 * visibly instead of passing locally. Call `stop()` (in `finally`/`afterEach`) to unwrap.
 */
export function watchD1Params(opts: { enforce?: boolean } = {}): Watch {
  const enforce = opts.enforce ?? true;
  const probe = env.DB.prepare("SELECT 1");
  const proto = Object.getPrototypeOf(probe) as { bind: (...values: unknown[]) => D1PreparedStatement };
  const original = proto.bind;
  const statements: BoundStatement[] = [];
  proto.bind = function (this: D1PreparedStatement & { statement?: string }, ...values: unknown[]) {
    const s = { sql: String(this.statement ?? "?"), params: values.length };
    statements.push(s);
    if (enforce && s.params > D1_MAX_PARAMS) throw new Error(`D1_ERROR: too many SQL variables (${s.params} bound; production D1 allows ${D1_MAX_PARAMS})`);
    return original.apply(this, values);
  };
  return {
    statements,
    max: () => statements.reduce((m, s) => Math.max(m, s.params), 0),
    over: () => statements.filter((s) => s.params > D1_MAX_PARAMS),
    stop: () => {
      proto.bind = original;
    },
  };
}
