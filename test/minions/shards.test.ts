import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { benchItem } from "../../functions/minions/bench";
import { bucketDigest, bucketOf, EMPTY_MD5, fleetDigestOf, md5Hex, shardOf } from "../../functions/minions/checksum";

const fleet = () => env.MINION_FLEET.getByName("fleet");
const shard = (id: string) => env.MINION_SHARD.getByName(shardOf(id));
const at = () => new Date().toISOString();

describe("registry shards and the fleet aggregator", () => {
  it("a write with an older sequence number never undoes a newer one (late upsert after a leave, retried writes)", async () => {
    const id = crypto.randomUUID();
    const s = shard(id);
    expect((await s.upsert(id, 1, md5Hex("a"), '{"v":"a"}', at())).outcome).toBe("joined");
    expect((await s.upsert(id, 1, md5Hex("a"), '{"v":"a"}', at())).outcome).toBe("stale");
    expect((await s.upsert(id, 2, md5Hex("a"), '{"v":"a"}', at())).outcome).toBe("unchanged");
    expect((await s.remove(id, 4, "closed", at())).removed).toBe(true);
    expect((await s.upsert(id, 3, md5Hex("b"), '{"v":"b"}', at())).outcome).toBe("stale");
    expect(await s.get(id)).toBeNull();
    expect((await s.remove(id, 5, "closed", at())).removed).toBe(false);
    expect((await s.upsert(id, 6, md5Hex("b"), '{"v":"b"}', at())).outcome).toBe("joined");
    expect(await s.get(id)).toEqual({ checksum: md5Hex("b"), status: '{"v":"b"}' });
    expect((await s.remove(id, 7, "closed", at())).removed).toBe(true);
  });

  it("the fleet ignores a bucket digest older than the one it holds", async () => {
    const f = fleet();
    const before = (await f.summary()).checksum;
    await f.setBucket("zz", md5Hex("new"), 1, 10);
    const withNew = (await f.summary()).checksum;
    await f.setBucket("zz", md5Hex("old"), 1, 9);
    expect((await f.summary()).checksum).toBe(withNew);
    await f.setBucket("zz", null, 0, 11);
    expect((await f.summary()).checksum).toBe(before);
  });

  it("a change rehashes only its own bucket; the fleet checksum equals the digest of all minions", async () => {
    const items = Array.from({ length: 300 }, (_, i) => benchItem(i, 0));
    const byShard = new Map<string, typeof items>();
    for (const it of items) byShard.set(shardOf(it.id), [...(byShard.get(shardOf(it.id)) ?? []), it]);
    await Promise.all([...byShard].map(([s, its]) => env.MINION_SHARD.getByName(s).upsertMany(its, at())));
    const sum = await fleet().summary();
    expect(sum.count).toBe(300);
    expect(sum.checksum).toBe(fleetDigestOf(items));
    const { buckets } = await fleet().buckets();
    const changed = benchItem(7, 1);
    const s = shard(changed.id);
    await s.upsert(changed.id, changed.seq, changed.checksum, changed.status, at());
    const after = await fleet().buckets();
    const diff = after.buckets.filter((b) => buckets.find((x) => x.bucket === b.bucket)?.digest !== b.digest);
    expect(diff.map((b) => b.bucket)).toEqual([bucketOf(changed.id)]);
    const members = items.filter((m) => bucketOf(m.id) === bucketOf(changed.id)).map((m) => (m.id === changed.id ? changed : m));
    expect(diff[0].digest).toBe(bucketDigest(members));
    expect(after.summary.checksum).toBe(fleetDigestOf(items.map((m) => (m.id === changed.id ? changed : m))));
  });

  it("a shard re-sends bucket digests the fleet missed, from its alarm", async () => {
    const id = crypto.randomUUID();
    const s = shard(id);
    await s.upsert(id, 1, md5Hex("x"), "{}", at());
    // Simulate a lost push: the fleet forgets the bucket; the shard marks it unpushed.
    const b = bucketOf(id);
    const { runInDurableObject } = await import("cloudflare:test");
    await runInDurableObject(s, async (_o, state) => {
      state.storage.sql.exec("UPDATE buckets SET pushed = 0 WHERE bucket = ?", b);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await runInDurableObject(fleet(), async (_o, state) => {
      state.storage.sql.exec("DELETE FROM buckets WHERE bucket = ?", b);
      state.storage.sql.exec("DELETE FROM versions WHERE bucket = ?", b);
    });
    expect(await runDurableObjectAlarm(s)).toBe(true);
    const view = await fleet().buckets();
    expect(view.buckets.find((x) => x.bucket === b)?.digest).toBe((await s.bucket(b)).digest);
  });

  it("an empty fleet aggregator answers MD5 of nothing", async () => {
    const fresh = env.MINION_FLEET.getByName("fleet-empty-probe");
    expect(await fresh.summary()).toEqual({ checksum: EMPTY_MD5, count: 0, buckets: 0 });
  });
});
