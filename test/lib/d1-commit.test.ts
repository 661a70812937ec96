import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { d1Commit, groupCommitStats, isStatementError, MAX_GROUP_STATEMENTS } from "../../functions/lib/d1-commit";
import { events } from "../../schema/events";
import * as tables from "../../schema/tables";

const db = drizzle(env.DB, { schema: tables });
const noKeepAlive = () => {};
const countEvents = async (type: string) => (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE type = ?").bind(type).first<{ n: number }>())!.n;
const event = (type: string, actor: string) => db.insert(events).values({ at: "2026-11-25T00:00:00.000Z", type, actor, data: "{}" });

// Requests sharing a round trip across request contexts are tested against wrangler dev (test/e2e/probes-burst.test.mjs):
// the test pool's runner cannot settle one request's promise from another request's context.
describe("D1 group commit", () => {
  it("keeps a leader within D1 Free's 50 queries per invocation: one batch plus each member retried alone", () => {
    expect(2 * MAX_GROUP_STATEMENTS).toBeLessThanOrEqual(50);
  });

  it("stores every concurrent commit in fewer D1 round trips than commits", async () => {
    const commit = d1Commit(env.DB, noKeepAlive);
    const before = { ...groupCommitStats(env.DB) };
    await Promise.all(Array.from({ length: 20 }, (_, i) => commit([event("test.shared", `t:${i}`), event("test.shared", `u:${i}`)])));
    const after = groupCommitStats(env.DB);
    expect(await countEvents("test.shared")).toBe(40);
    expect(after.items - before.items).toBe(20);
    expect(after.batches - before.batches).toBeLessThan(20);
    expect(after.largest).toBeLessThanOrEqual(MAX_GROUP_STATEMENTS / 2);
  });

  it("returns each commit its own statements' results", async () => {
    const commit = d1Commit(env.DB, noKeepAlive);
    const [a, b] = await Promise.all([
      commit([event("test.own", "a"), db.select({ n: events.actor }).from(events).where(sql`${events.type} = 'test.own'`)]),
      commit([db.select({ one: sql<number>`1` }).from(events).limit(1)]),
    ]);
    expect(a).toHaveLength(2);
    expect(a[1]).toEqual([{ n: "a" }]);
    expect(b).toEqual([[{ one: 1 }]]);
  });

  it("fails only the commit whose statement breaks a constraint; the others sharing its round trip are stored", async () => {
    const commit = d1Commit(env.DB, noKeepAlive);
    const duplicate = async () => {
      await env.DB.prepare("INSERT INTO events (id, at, type, actor, data) VALUES (987654, 'x', 'test.dup', 'a', '{}')").run();
      return commit([db.insert(events).values({ id: 987654, at: "x", type: "test.dup", actor: "b", data: "{}" })]);
    };
    const results = await Promise.allSettled([
      commit([event("test.isolated", "before")]),
      commit([event("test.isolated", "one")]),
      duplicate(),
      commit([event("test.isolated", "two")]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(isStatementError((results[2] as PromiseRejectedResult).reason)).toBe(true);
    expect(await countEvents("test.isolated")).toBe(3);
    expect(await countEvents("test.dup")).toBe(1);
  });
});
