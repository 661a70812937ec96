import { SHARDS } from "../minions/checksum";
import { fleetStub, joinOrder, shardFor, shardStub } from "../minions/registry";

// Read-only registry reads for the minions pages, through the registry's own objects (the same ones GET /minions,
// /minions/buckets and /minions/:id read): the fleet object for the checksum and buckets, the 16 shards for members.

export type MinionRow = { id: string; checksum: string; joined_at: string; changed_at: string };

/** The fleet checksum, bucket digests and every present minion (id, checksum, times), in join order. */
export async function minionFleet(env: Env) {
  const [fleet, parts] = await Promise.all([fleetStub(env).buckets(), Promise.all(SHARDS.map((s) => shardStub(env, s).index()))]);
  const minions: MinionRow[] = parts
    .flat()
    .sort(joinOrder)
    .map((m) => ({ id: m.id, checksum: m.checksum, joined_at: m.joinedAt, changed_at: m.changedAt }));
  return { checksum: fleet.summary.checksum, count: fleet.summary.count, buckets: fleet.buckets, minions };
}

/** One minion's stored status (parsed) and checksum, or null when it is not present. */
export async function minionStatus(env: Env, id: string): Promise<{ checksum: string; status: unknown } | null> {
  const m = await shardFor(env, id).get(id);
  if (!m) return null;
  let status: unknown = m.status;
  try {
    status = JSON.parse(m.status);
  } catch {
    // stored as text: shown as is
  }
  return { checksum: m.checksum, status };
}
