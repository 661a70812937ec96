import { DurableObject } from "cloudflare:workers";
import { eventInsert } from "../functions/events/store";
import { buildServices } from "../functions/lib/hono";
import { bucketDigest, bucketOf } from "../functions/minions/checksum";
import { migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { log } from "../functions/lib/log";

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: the shard's minions (tombstones included) and its buckets' digests.
  (sql) =>
    sql.exec(
      `CREATE TABLE IF NOT EXISTS minions (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, present INTEGER NOT NULL, seq INTEGER NOT NULL,
         checksum TEXT, status TEXT, joined_at TEXT, changed_at TEXT);
       CREATE INDEX IF NOT EXISTS minions_bucket_idx ON minions (bucket, present, id);
       CREATE TABLE IF NOT EXISTS buckets (bucket TEXT PRIMARY KEY, digest TEXT, count INTEGER NOT NULL, version INTEGER NOT NULL, pushed INTEGER NOT NULL);`,
    ),
  // 2: the event outbox. An event is stored here in the same synchronous step as the change it describes, then
  // written to D1 and deleted; a failed write stays queued and the alarm flushes it (oldest first).
  (sql) =>
    sql.exec(
      `CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, subject TEXT NOT NULL, at TEXT NOT NULL,
         data TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);`,
    ),
  // 3: the listing's order (GET /minions pages in join order: functions/minions/listing.ts).
  (sql) => sql.exec("CREATE INDEX IF NOT EXISTS minions_join_idx ON minions (present, joined_at, id);"),
];

/** Events written to D1 per batch when the outbox is flushed (each insert binds 9 parameters; D1 allows 100). */
const FLUSH_BATCH = 50;
type OutboxRow = { id: number; type: string; subject: string; at: string; data: string; attempts: number };
type ShardEvent = { type: string; id: string; at: string; data: Record<string, unknown> };

type MinionRow = {
  id: string;
  bucket: string;
  present: number;
  seq: number;
  checksum: string | null;
  status: string | null;
  joined_at: string | null;
  changed_at: string | null;
};
type BucketRow = { bucket: string; digest: string | null; count: number; version: number; pushed: number };

export type UpsertResult = { outcome: "joined" | "changed" | "unchanged" | "stale" };
export type MinionEntry = { id: string; checksum: string; status: string; joinedAt: string; changedAt: string };

/**
 * One shard of the minion registry (16 shards, named "0".."f"; shard "a" owns buckets "a0".."af").
 * Holds, for each minion of its buckets, the checksum and the stored status, plus each bucket's digest.
 * A change rehashes only the minion's bucket (its members sorted by id) and pushes that one digest to the fleet.
 * Every write carries the agent's sequence number, so a late or retried write never undoes a newer one, and
 * removed minions stay as tombstones (present = 0) holding the last sequence number.
 * The shard also writes the minion.joined / minion.changed / minion.left events: each is queued in the shard's
 * outbox together with the change it describes, then written to D1; a failed write is retried by the alarm, so the
 * change feed never loses an event (at least once: a write that committed but whose answer was lost is sent again).
 */
export class MinionShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** The flush in progress (one at a time, so events reach D1 in outbox order). */
  private flushing: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(this.sql, SCHEMA);
    });
  }

  private row(id: string): MinionRow | undefined {
    return this.sql.exec<MinionRow>("SELECT * FROM minions WHERE id = ?", id).toArray()[0];
  }

  /** Rehash one bucket from its present members; bumps its version. Synchronous: no other write interleaves. */
  private rehash(bucket: string): BucketRow {
    const members = this.sql
      .exec<{ id: string; checksum: string }>("SELECT id, checksum FROM minions WHERE bucket = ? AND present = 1 ORDER BY id", bucket)
      .toArray();
    const prev = this.sql.exec<BucketRow>("SELECT * FROM buckets WHERE bucket = ?", bucket).toArray()[0];
    const next: BucketRow = {
      bucket,
      digest: members.length ? bucketDigest(members) : null,
      count: members.length,
      version: (prev?.version ?? 0) + 1,
      pushed: prev?.pushed ?? 0,
    };
    this.sql.exec(
      "INSERT OR REPLACE INTO buckets (bucket, digest, count, version, pushed) VALUES (?, ?, ?, ?, ?)",
      next.bucket,
      next.digest,
      next.count,
      next.version,
      next.pushed,
    );
    return next;
  }

  /** Send changed bucket digests to the fleet aggregator; on failure the alarm retries. */
  private async push(buckets: BucketRow[]): Promise<void> {
    if (buckets.length === 0) return;
    try {
      await this.env.MINION_FLEET.getByName("fleet").setBuckets(
        buckets.map((b) => ({ bucket: b.bucket, digest: b.digest, count: b.count, version: b.version })),
      );
      for (const b of buckets) this.sql.exec("UPDATE buckets SET pushed = MAX(pushed, ?) WHERE bucket = ?", b.version, b.bucket);
    } catch (e) {
      log.error("MinionShard.push", String(e));
      await this.ctx.storage.setAlarm(Date.now() + 1000);
    }
  }

  async alarm(): Promise<void> {
    const dirty = this.sql.exec<BucketRow>("SELECT * FROM buckets WHERE pushed < version").toArray();
    await this.push(dirty);
    await this.flush();
  }

  /** Queue events in the outbox (synchronous: call it in the same step as the change, before any await). */
  private enqueue(events: ShardEvent[]): void {
    for (const e of events) this.sql.exec("INSERT INTO outbox (type, subject, at, data) VALUES (?, ?, ?, ?)", e.type, e.id, e.at, JSON.stringify(e.data));
  }

  /** Write one batch of queued events to D1 (a method of its own so tests can make D1 fail). */
  protected async writeEvents(rows: OutboxRow[]): Promise<void> {
    const { db } = buildServices(this.env);
    const stmts = rows.map((e) =>
      eventInsert(db, {
        at: e.at,
        type: e.type,
        actor: "system",
        subject: { kind: "minion", id: e.subject },
        data: JSON.parse(e.data) as Record<string, unknown>,
      }),
    );
    await db.batch(stmts as unknown as Parameters<typeof db.batch>[0]);
  }

  /** Send the outbox to D1, oldest first; on a failure the rest stays queued and the alarm tries again (backing off). */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    const run = (async () => {
      for (;;) {
        const rows = this.sql.exec<OutboxRow>("SELECT * FROM outbox ORDER BY id LIMIT ?", FLUSH_BATCH).toArray();
        if (rows.length === 0) return;
        try {
          await this.writeEvents(rows);
        } catch (e) {
          const attempts = rows[0].attempts + 1;
          this.sql.exec("UPDATE outbox SET attempts = attempts + 1 WHERE id <= ?", rows[rows.length - 1].id);
          log.error("MinionShard.flush", String(e), { queued: this.outboxSize(), attempts });
          const cur = await this.ctx.storage.getAlarm();
          const at = Date.now() + Math.min(60_000, 500 * 2 ** Math.min(attempts, 7));
          if (cur === null || cur > at) await this.ctx.storage.setAlarm(at);
          return;
        }
        this.sql.exec("DELETE FROM outbox WHERE id <= ?", rows[rows.length - 1].id);
      }
    })();
    this.flushing = run.finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private outboxSize(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
  }

  /** Diagnostics and tests: the events not yet written to D1. */
  outbox(): { type: string; id: string; attempts: number }[] {
    return this.sql
      .exec<OutboxRow>("SELECT * FROM outbox ORDER BY id")
      .toArray()
      .map((r) => ({ type: r.type, id: r.subject, attempts: r.attempts }));
  }

  /** Apply one write (no I/O): the outcome, the bucket to push, the event to record. */
  private apply(id: string, seq: number, checksum: string, status: string, at: string) {
    const row = this.row(id);
    if (row && seq <= row.seq) return { outcome: "stale" as const };
    if (row && row.present === 1 && row.checksum === checksum) {
      this.sql.exec("UPDATE minions SET seq = ? WHERE id = ?", seq, id);
      return { outcome: "unchanged" as const };
    }
    const joined = !row || row.present === 0;
    const bucket = bucketOf(id);
    this.sql.exec(
      "INSERT OR REPLACE INTO minions (id, bucket, present, seq, checksum, status, joined_at, changed_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
      id,
      bucket,
      seq,
      checksum,
      status,
      joined ? at : row!.joined_at,
      at,
    );
    const outcome = joined ? ("joined" as const) : ("changed" as const);
    return {
      outcome,
      bucket,
      event: { type: `minion.${outcome}`, id, at, data: joined ? { checksum, bucket } : { checksum, previous: row!.checksum, bucket } },
    };
  }

  /** A minion's new status (status: canonical JSON text). */
  async upsert(id: string, seq: number, checksum: string, status: string, at: string): Promise<UpsertResult> {
    const r = this.apply(id, seq, checksum, status, at);
    if (r.outcome === "stale" || r.outcome === "unchanged") return { outcome: r.outcome };
    const b = this.rehash(r.bucket!);
    this.enqueue([r.event!]);
    await this.push([b]);
    await this.flush();
    return { outcome: r.outcome };
  }

  /** The minion left (socket closed, beacons expired). Removing an absent minion only records the sequence number. */
  async remove(id: string, seq: number, reason: string, at: string): Promise<{ removed: boolean }> {
    const row = this.row(id);
    if (row && seq <= row.seq) return { removed: false };
    if (!row || row.present === 0) {
      this.sql.exec(
        "INSERT OR REPLACE INTO minions (id, bucket, present, seq, checksum, status, joined_at, changed_at) VALUES (?, ?, 0, ?, NULL, NULL, NULL, ?)",
        id,
        bucketOf(id),
        seq,
        at,
      );
      return { removed: false };
    }
    this.sql.exec("UPDATE minions SET present = 0, seq = ?, checksum = NULL, status = NULL, changed_at = ? WHERE id = ?", seq, at, id);
    const b = this.rehash(row.bucket);
    this.enqueue([{ type: "minion.left", id, at, data: { reason, checksum: row.checksum, bucket: row.bucket } }]);
    await this.push([b]);
    await this.flush();
    return { removed: true };
  }

  get(id: string): { checksum: string; status: string } | null {
    const row = this.row(id);
    return row && row.present === 1 ? { checksum: row.checksum!, status: row.status! } : null;
  }

  checksumOf(id: string): string | null {
    return this.sql.exec<{ checksum: string }>("SELECT checksum FROM minions WHERE id = ? AND present = 1", id).toArray()[0]?.checksum ?? null;
  }

  /** Every present minion's id, checksum and times, in join order: no statuses (the console's minions page). */
  index(): Omit<MinionEntry, "status">[] {
    return this.sql
      .exec<{ id: string; checksum: string; joined_at: string; changed_at: string }>(
        "SELECT id, checksum, joined_at, changed_at FROM minions WHERE present = 1 ORDER BY joined_at, id",
      )
      .toArray()
      .map((r) => ({ id: r.id, checksum: r.checksum, joinedAt: r.joined_at, changedAt: r.changed_at }));
  }

  /** The next `limit` present minions after `after` in join order: keys only, no statuses (a listing page's first step). */
  keysAfter(after: { joinedAt: string; id: string } | null, limit: number): { id: string; joinedAt: string }[] {
    const n = Math.max(1, Math.min(5000, Math.floor(limit)));
    const rows = after
      ? this.sql.exec<{ id: string; joined_at: string }>(
          "SELECT id, joined_at FROM minions WHERE present = 1 AND (joined_at > ? OR (joined_at = ? AND id > ?)) ORDER BY joined_at, id LIMIT ?",
          after.joinedAt,
          after.joinedAt,
          after.id,
          n,
        )
      : this.sql.exec<{ id: string; joined_at: string }>("SELECT id, joined_at FROM minions WHERE present = 1 ORDER BY joined_at, id LIMIT ?", n);
    return rows.toArray().map((r) => ({ id: r.id, joinedAt: r.joined_at }));
  }

  /** The stored statuses (JSON text) of the present minions among `ids` (a listing page's second step). */
  statusesOf(ids: string[]): { id: string; status: string }[] {
    const out: { id: string; status: string }[] = [];
    for (const id of ids) {
      const r = this.sql.exec<{ status: string }>("SELECT status FROM minions WHERE id = ? AND present = 1", id).toArray()[0];
      if (r) out.push({ id, status: r.status });
    }
    return out;
  }

  /** One bucket's present members (sorted by id) and its digest. */
  bucket(bucket: string): { bucket: string; digest: string | null; minions: { id: string; checksum: string }[] } {
    const minions = this.sql
      .exec<{ id: string; checksum: string }>("SELECT id, checksum FROM minions WHERE bucket = ? AND present = 1 ORDER BY id", bucket)
      .toArray();
    const row = this.sql.exec<{ digest: string | null }>("SELECT digest FROM buckets WHERE bucket = ?", bucket).toArray()[0];
    return { bucket, digest: row?.digest ?? null, minions };
  }

  buckets(): { bucket: string; digest: string; count: number }[] {
    return this.sql
      .exec<{ bucket: string; digest: string; count: number }>("SELECT bucket, digest, count FROM buckets WHERE count > 0 ORDER BY bucket")
      .toArray();
  }

  /**
   * Benchmark-only bulk path (bench/minions.mjs, behind MINIONS_BENCH_SEED): many writes, one rehash per touched
   * bucket, one push, one event batch. The same code as upsert, minus per-write round trips.
   */
  async upsertMany(items: { id: string; seq: number; checksum: string; status: string }[], at: string): Promise<{ applied: number }> {
    const touched = new Set<string>();
    const events: ShardEvent[] = [];
    for (const it of items) {
      const r = this.apply(it.id, it.seq, it.checksum, it.status, at);
      if (r.bucket) {
        touched.add(r.bucket);
        events.push(r.event!);
      }
    }
    const rehashed = [...touched].map((b) => this.rehash(b));
    this.enqueue(events);
    await this.push(rehashed);
    await this.flush();
    return { applied: events.length };
  }
}
