import { DurableObject } from "cloudflare:workers";
import { migrateSchema, type SchemaStep } from "../functions/lib/do-schema";
import { EMPTY_MD5, fleetDigest } from "../functions/minions/checksum";

/** The object's storage schema, one additive step per version (functions/lib/do-schema.ts). */
const SCHEMA: SchemaStep[] = [
  // 1: each non-empty bucket's digest, the latest version seen per bucket, and the combined fleet row.
  (sql) =>
    sql.exec(
      `CREATE TABLE IF NOT EXISTS buckets (bucket TEXT PRIMARY KEY, digest TEXT NOT NULL, count INTEGER NOT NULL, version INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS versions (bucket TEXT PRIMARY KEY, version INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS fleet (one INTEGER PRIMARY KEY CHECK (one = 1), checksum TEXT NOT NULL, count INTEGER NOT NULL, buckets INTEGER NOT NULL);`,
    ),
];

type BucketRow = { bucket: string; digest: string; count: number; version: number };
type FleetRow = { checksum: string; count: number; buckets: number };

export type FleetSummary = { checksum: string; count: number; buckets: number };

/**
 * The fleet aggregator (one object, name "fleet"): the digest of each non-empty bucket (at most 256 rows) and the
 * fleet checksum combined from them. Shards push a bucket's digest with a per-bucket version after every change;
 * older versions arriving late are ignored. Reading the fleet checksum is one row, whatever the fleet's size.
 */
export class MinionFleet extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      migrateSchema(this.sql, SCHEMA);
    });
  }

  /** Record bucket `bucket` at `version` (digest null or count 0: the bucket is now empty). Returns the fleet summary. */
  setBucket(bucket: string, digest: string | null, count: number, version: number): FleetSummary {
    const seen = this.sql.exec<{ version: number }>("SELECT version FROM versions WHERE bucket = ?", bucket).toArray()[0];
    if (seen && seen.version >= version) return this.summary();
    this.sql.exec("INSERT OR REPLACE INTO versions (bucket, version) VALUES (?, ?)", bucket, version);
    if (digest === null || count <= 0) this.sql.exec("DELETE FROM buckets WHERE bucket = ?", bucket);
    else this.sql.exec("INSERT OR REPLACE INTO buckets (bucket, digest, count, version) VALUES (?, ?, ?, ?)", bucket, digest, count, version);
    return this.recompute();
  }

  /** Several buckets at once (the benchmark's seeding path and shard catch-up). */
  setBuckets(updates: { bucket: string; digest: string | null; count: number; version: number }[]): FleetSummary {
    for (const u of updates) this.setBucket(u.bucket, u.digest, u.count, u.version);
    return this.summary();
  }

  /** At most 256 rows: the cost does not grow with the fleet. */
  private recompute(): FleetSummary {
    const rows = this.sql.exec<BucketRow>("SELECT bucket, digest, count, version FROM buckets ORDER BY bucket").toArray();
    const s: FleetSummary = { checksum: fleetDigest(rows), count: rows.reduce((n, r) => n + r.count, 0), buckets: rows.length };
    this.sql.exec("INSERT OR REPLACE INTO fleet (one, checksum, count, buckets) VALUES (1, ?, ?, ?)", s.checksum, s.count, s.buckets);
    return s;
  }

  summary(): FleetSummary {
    const row = this.sql.exec<FleetRow>("SELECT checksum, count, buckets FROM fleet WHERE one = 1").toArray()[0];
    return row ? { checksum: row.checksum, count: row.count, buckets: row.buckets } : { checksum: EMPTY_MD5, count: 0, buckets: 0 };
  }

  buckets(): { summary: FleetSummary; buckets: { bucket: string; digest: string; count: number }[] } {
    const rows = this.sql.exec<BucketRow>("SELECT bucket, digest, count FROM buckets ORDER BY bucket").toArray();
    return { summary: this.summary(), buckets: rows.map((r) => ({ bucket: r.bucket, digest: r.digest, count: r.count })) };
  }
}
