import { createHash } from "node:crypto";

/**
 * The minion registry's pure logic: status canonicalisation, the per-minion checksum, bucket and fleet digests.
 * Everything here is synchronous and side-effect free (md5 through nodejs_compat's node:crypto, which workerd
 * implements with BoringSSL; WebCrypto's digest("MD5") is async and non-standard).
 * Definitions: docs/minions.md; why two levels: docs/decisions/0004-minion-shards.md.
 */

/** MD5 of nothing: the checksum of an empty fleet (and of an empty bucket, which is never listed). */
export const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

export const BUCKET_COUNT = 256;

export function md5Hex(s: string): string {
  return createHash("md5").update(s, "utf8").digest("hex");
}

export type MinionStatus = Record<string, unknown>;

/** A status body an agent sent is usable only if it is a JSON object (not an array, null or a scalar). */
export function parseStatus(body: string): MinionStatus | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as MinionStatus) : null;
}

/**
 * The status as the registry stores and serves it: the agent's object in the agent's key order, with `id` set
 * to the minion id when the agent left it out (appended last, as Stormtower's `status.id ??= minionId` did).
 * The checksum is taken of this canonical form, so HEAD and GET always agree.
 */
export function canonicalStatus(status: MinionStatus, id: string): MinionStatus {
  if (status.id !== undefined && status.id !== null) return status;
  // Plain assignment, as in CoffeeScript's `?=`: a null `id` keeps its place, a missing one goes last.
  const copy: MinionStatus = { ...status };
  copy.id = id;
  return copy;
}

/** Per-minion checksum: MD5 hex of JSON.stringify(status) without the top-level `os` key, key order preserved. */
export function minionChecksum(status: MinionStatus): string {
  const { os: _os, ...rest } = status;
  return md5Hex(JSON.stringify(rest));
}

/** A minion's bucket: the first two hex characters of MD5(id), "00".."ff". */
export function bucketOf(id: string): string {
  return md5Hex(id).slice(0, 2);
}

export type MinionSum = { id: string; checksum: string };

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/** A bucket's digest: MD5 hex of `${id}:${checksum}\n` over its minions sorted by id (code-unit order). */
export function bucketDigest(minions: MinionSum[]): string {
  return md5Hex(
    [...minions]
      .sort(byKey((m) => m.id))
      .map((m) => `${m.id}:${m.checksum}\n`)
      .join(""),
  );
}

export type BucketSum = { bucket: string; digest: string };

/** The fleet checksum: MD5 hex of `${bucket}:${digest}\n` over the non-empty buckets sorted by bucket. */
export function fleetDigest(buckets: BucketSum[]): string {
  return md5Hex(
    [...buckets]
      .sort(byKey((b) => b.bucket))
      .map((b) => `${b.bucket}:${b.digest}\n`)
      .join(""),
  );
}

/** The fleet checksum straight from the minions (reference implementation for tests and small fleets). */
export function fleetDigestOf(minions: MinionSum[]): string {
  const groups = new Map<string, MinionSum[]>();
  for (const m of minions) {
    const b = bucketOf(m.id);
    const g = groups.get(b);
    if (g) g.push(m);
    else groups.set(b, [m]);
  }
  return fleetDigest([...groups].map(([bucket, ms]) => ({ bucket, digest: bucketDigest(ms) })));
}

/** Shards own contiguous ranges of buckets; with 16 shards, shard "a" owns buckets "a0".."af". */
export const SHARD_COUNT = 16;

export function shardOfBucket(bucket: string): string {
  return bucket[0];
}

export function shardOf(id: string): string {
  return shardOfBucket(bucketOf(id));
}

export const SHARDS: readonly string[] = Array.from({ length: SHARD_COUNT }, (_, i) => i.toString(16));

/** The value of an ETag / Content-MD5 pair and whether an If-None-Match header matches it (weak comparison). */
export function etagOf(hex: string): string {
  return `"${hex}"`;
}

export function ifNoneMatchHits(header: string | undefined | null, hex: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === `"${hex}"`);
}
