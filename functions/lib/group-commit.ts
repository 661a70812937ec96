/**
 * Group commit: concurrent requests in one isolate share a D1 round trip.
 *
 * A request that finds no open batch opens one and leads it; requests arriving while the previous batch is
 * still in flight join the open batch. The leader flushes its batch as soon as the previous flush ends (never
 * on a timer: a lone request is flushed at once, so an idle service adds no latency), as one atomic D1 batch,
 * and hands every member its own slice of the results. Each member answers its client only after its statements
 * are committed, so nothing acknowledged can be lost.
 *
 * Workers specifics this relies on (compatibility date ≥ 2024-10-14): a promise settled from another request's
 * context resumes its awaiters in their own context, and a leader keeps its duty alive with `waitUntil`, which
 * lets the work finish even if the leader's own client disconnects. Members keep a timer pending while they
 * wait, so the runtime never takes them for hung, and give up with a 503 if a batch stalls beyond it.
 *
 * Limits (Cloudflare D1): a Worker invocation may run 50 queries on the Free plan (1,000 on Paid) and a batch's
 * statements each count. A leader runs at most one batch of `maxStatements` and, if that batch fails on one
 * member's statement, each member's statements once more on their own: at most 2 × `maxStatements` queries.
 */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

type Entry<I, R> = { item: I; size: number; settle: (o: Outcome<R>) => void };
type Batch<I, R> = { entries: Entry<I, R>[]; size: number };

export type GroupCommitOptions<I, R> = {
  /** Largest number of statements flushed in one round trip. */
  maxStatements: number;
  /** Run many items in one atomic round trip; results in the items' order. */
  exec: (items: I[]) => Promise<R[]>;
  /** Run one item on its own (used when a shared batch failed because of one member). */
  execOne: (item: I) => Promise<R>;
  /** Whether a failed shared batch certainly committed nothing and failed because of a statement, so members may be retried alone. */
  isolatable: (error: unknown) => boolean;
  /** How long a leader waits for the previous flush before flushing anyway (ms). */
  previousFlushWaitMs: number;
  /** How long a member waits for its batch before giving up (ms), unless its submit says otherwise. */
  memberWaitMs: number;
  /** The error a member that gave up rejects with: its batch may still commit, so this must not say "nothing happened". */
  stalled: () => unknown;
};

export type GroupCommitStats = { batches: number; items: number; largest: number; retriedAlone: number };

export class GroupCommit<I, R> {
  private open: Batch<I, R> | null = null;
  private inflight: Promise<void> | null = null;
  readonly stats: GroupCommitStats = { batches: 0, items: 0, largest: 0, retriedAlone: 0 };

  constructor(private readonly opts: GroupCommitOptions<I, R>) {}

  /**
   * Queue `item` (`size` statements) and resolve with its result once committed. `keepAlive` receives the
   * leader's duty (the request's `waitUntil`); it is only called for the request that opens a batch. `waitMs` is how
   * long this member waits before rejecting with `stalled()` (the batch itself carries on).
   */
  submit(item: I, size: number, keepAlive: (work: Promise<unknown>) => void, waitMs = this.opts.memberWaitMs): Promise<R> {
    if (size > this.opts.maxStatements) return this.opts.execOne(item);
    let batch = this.open;
    let leader = false;
    if (!batch || batch.size + size > this.opts.maxStatements) {
      batch = { entries: [], size: 0 };
      this.open = batch;
      leader = true;
    }
    const result = this.member(batch, item, size, waitMs);
    if (leader) keepAlive(this.lead(batch));
    return result;
  }

  private async member(batch: Batch<I, R>, item: I, size: number, waitMs: number): Promise<R> {
    // Joining happens synchronously (before the first await), so the caller's size accounting holds.
    let settle!: (o: Outcome<R>) => void;
    const outcome = new Promise<Outcome<R>>((r) => {
      settle = r;
    });
    batch.entries.push({ item, size, settle });
    batch.size += size;
    // The pending timer keeps this request's context alive while another request's flush runs (a request
    // waiting on nothing of its own is cancelled as hung), and is cleared here, in the context that set it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<Outcome<R>>((r) => {
      timer = setTimeout(() => r({ ok: false, error: this.opts.stalled() }), waitMs);
    });
    try {
      const o = await Promise.race([outcome, stalled]);
      if (o.ok) return o.value;
      throw o.error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async lead(batch: Batch<I, R>): Promise<void> {
    const previous = this.inflight;
    let done!: () => void;
    const mine = new Promise<void>((r) => {
      done = r;
    });
    this.inflight = mine;
    try {
      // While the previous batch is in flight, later requests join this one: that is where the sharing comes from.
      if (previous) await waitAtMost(previous, this.opts.previousFlushWaitMs);
      if (this.open === batch) this.open = null;
      await this.flush(batch.entries);
    } finally {
      done();
      if (this.inflight === mine) this.inflight = null;
    }
  }

  private async flush(entries: Entry<I, R>[]): Promise<void> {
    this.stats.batches++;
    this.stats.items += entries.length;
    this.stats.largest = Math.max(this.stats.largest, entries.length);
    try {
      const results = await this.opts.exec(entries.map((e) => e.item));
      entries.forEach((e, i) => {
        e.settle({ ok: true, value: results[i] });
      });
    } catch (error) {
      if (entries.length === 1 || !this.opts.isolatable(error)) {
        for (const e of entries) e.settle({ ok: false, error });
        return;
      }
      // The atomic batch rolled back because of someone's statement: give every member its own outcome.
      for (const e of entries) {
        this.stats.retriedAlone++;
        try {
          e.settle({ ok: true, value: await this.opts.execOne(e.item) });
        } catch (own) {
          e.settle({ ok: false, error: own });
        }
      }
    }
  }
}

function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
