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
];

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
 * The shard also writes the minion.joined / minion.changed / minion.left events (after the change is stored).
 */
export class MinionShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;

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
  }

  private async record(events: { type: string; id: string; at: string; data: Record<string, unknown> }[]): Promise<void> {
    if (events.length === 0) return;
    try {
      const { db } = buildServices(this.env);
      const stmts = events.map((e) => eventInsert(db, { at: e.at, type: e.type, actor: "system", subject: { kind: "minion", id: e.id }, data: e.data }));
      await db.batch(stmts as unknown as Parameters<typeof db.batch>[0]);
    } catch (e) {
      log.error("MinionShard.record", String(e));
    }
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
    await this.push([b]);
    await this.record([r.event!]);
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
    await this.push([b]);
    await this.record([{ type: "minion.left", id, at, data: { reason, checksum: row.checksum, bucket: row.bucket } }]);
    return { removed: true };
  }

  get(id: string): { checksum: string; status: string } | null {
    const row = this.row(id);
    return row && row.present === 1 ? { checksum: row.checksum!, status: row.status! } : null;
  }

  checksumOf(id: string): string | null {
    return this.sql.exec<{ checksum: string }>("SELECT checksum FROM minions WHERE id = ? AND present = 1", id).toArray()[0]?.checksum ?? null;
  }

  /** Present minions in join order: [joinedAt, id, status JSON text]. */
  list(): MinionEntry[] {
    return this.sql
      .exec<{ id: string; checksum: string; status: string; joined_at: string; changed_at: string }>(
        "SELECT id, checksum, status, joined_at, changed_at FROM minions WHERE present = 1 ORDER BY joined_at, id",
      )
      .toArray()
      .map((r) => ({ id: r.id, checksum: r.checksum, status: r.status, joinedAt: r.joined_at, changedAt: r.changed_at }));
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
    const events = [];
    for (const it of items) {
      const r = this.apply(it.id, it.seq, it.checksum, it.status, at);
      if (r.bucket) {
        touched.add(r.bucket);
        events.push(r.event!);
      }
    }
    const rehashed = [...touched].map((b) => this.rehash(b));
    await this.push(rehashed);
    await this.record(events);
    return { applied: events.length };
  }
}
