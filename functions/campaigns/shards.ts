import type { Occurrence } from "./delivery";

// Where a probe's pending occurrences live: one ProbeScheduler object per SHARD, many probes per shard, chosen by a
// stable hash of the probe id (docs/decisions/0013-sharded-schedulers.md). Pure.

/** A 32-bit FNV-1a hash: stable across deployments and runtimes (no Math.random, no platform hash). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard of a probe among `shards`. */
export function shardOf(probeId: string, shards: number): number {
  return fnv1a(probeId) % shards;
}

/**
 * The ProbeScheduler object name of a shard. The count is part of the name, so a run handed out with 64 shards always
 * meets the same 64 objects, and a change of SCHEDULER_SHARDS names other objects for later runs while the old ones
 * drain on their own alarms: no occurrence moves, so none is lost or handed to two objects.
 */
export function shardName(shard: number, shards: number): string {
  return `shard:${shards}:${shard}`;
}

/** The scheduler object name that holds this probe's occurrences of a run handed out with `shards` shards. */
export function schedulerNameOf(probeId: string, shards: number): string {
  return shardName(shardOf(probeId, shards), shards);
}

/** A page's occurrences grouped by the scheduler object that holds them (one hand-off RPC each), in shard order. */
export function groupByShard(occurrences: Occurrence[], shards: number): { name: string; occurrences: Occurrence[] }[] {
  const by = new Map<number, Occurrence[]>();
  for (const o of occurrences) {
    const s = shardOf(o.probeId, shards);
    const list = by.get(s);
    if (list) list.push(o);
    else by.set(s, [o]);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([s, list]) => ({ name: shardName(s, shards), occurrences: list }));
}

/** Split a list into chunks of at most `size` (size ≥ 1). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new RangeError("chunk size must be at least 1");
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
