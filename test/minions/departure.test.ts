import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { departureRetryMs } from "../../durable-objects/minion-agent";
import { shardOf } from "../../functions/minions/checksum";
import { adminToken, call } from "../helpers";
import { agentStub, closeAll, connectAgent, waitFor } from "./agents";

let token: string;
beforeAll(async () => {
  token = await adminToken();
});
afterEach(() => closeAll(token));

async function eventsOf(id: string): Promise<string[]> {
  const r = await env.DB.prepare("SELECT type FROM events WHERE subject_kind = 'minion' AND subject_id = ? AND type LIKE 'minion.%' ORDER BY id")
    .bind(id)
    .all<{ type: string }>();
  return r.results.map((e) => e.type);
}

const shard = (id: string) => env.MINION_SHARD.getByName(shardOf(id));
type Overridable = Record<string, unknown>;

describe("departure and change feed never lose an event", () => {
  it("a departure the shard did not take is kept by the agent's object and retried by its alarm until the minion leaves", async () => {
    const sim = await connectAgent();
    await waitFor(async () => (await call("HEAD", `/minions/${sim.id}`, { token })).status === 200);
    let calls = 0;
    await runInDurableObject(agentStub(sim.id), (o) => {
      (o as unknown as Overridable).tellShardLeft = async () => {
        calls++;
        throw new Error("shard unreachable");
      };
    });
    sim.close();
    await waitFor(async () => (await agentStub(sim.id).state())?.departure != null, 3000, "the pending departure");
    const pending = await agentStub(sim.id).state();
    expect(pending).toMatchObject({ conn: null, departure: { reason: "closed", attempts: 1 } });
    expect(calls).toBe(1);
    // The shard was not told: the minion is still listed, and the object holds an alarm to tell it again.
    expect((await call("HEAD", `/minions/${sim.id}`, { token })).status).toBe(200);
    expect(await runInDurableObject(agentStub(sim.id), (_o, state) => state.storage.getAlarm())).not.toBeNull();
    // Still unreachable: the retry fails, the attempts grow, the alarm stays set.
    expect(await runDurableObjectAlarm(agentStub(sim.id))).toBe(true);
    expect((await agentStub(sim.id).state())?.departure?.attempts).toBe(2);
    expect(calls).toBe(2);
    // The shard is back: the next alarm delivers the departure once, and the feed has it.
    await runInDurableObject(agentStub(sim.id), (o) => {
      delete (o as unknown as Overridable).tellShardLeft;
    });
    expect(await runDurableObjectAlarm(agentStub(sim.id))).toBe(true);
    expect((await agentStub(sim.id).state())?.departure).toBeNull();
    expect((await call("HEAD", `/minions/${sim.id}`, { token })).status).toBe(404);
    expect(await eventsOf(sim.id)).toEqual(["minion.joined", "minion.left"]);
  });

  it("a departure's retries back off from 1 s to at most a minute", () => {
    expect([1, 2, 3, 4, 7, 20].map(departureRetryMs)).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000]);
  });

  it("an event the shard could not write to D1 stays in its outbox and the shard's alarm writes it, in order", async () => {
    const sim = await connectAgent(undefined, { hello: false });
    await runInDurableObject(shard(sim.id), (o) => {
      (o as unknown as Overridable).writeEvents = async () => {
        throw new Error("D1_ERROR: database unavailable");
      };
    });
    sim.hello();
    await waitFor(async () => (await call("HEAD", `/minions/${sim.id}`, { token })).status === 200, 3000, "the join");
    // The status is stored and listed, the event is not in D1 but queued, not swallowed.
    expect(await eventsOf(sim.id)).toEqual([]);
    const queued = (await shard(sim.id).outbox()).filter((e) => e.id === sim.id);
    expect(queued).toEqual([{ type: "minion.joined", id: sim.id, attempts: 1 }]);
    expect(await runInDurableObject(shard(sim.id), (_o, state) => state.storage.getAlarm())).not.toBeNull();
    // The departure is queued behind the join.
    sim.close();
    await waitFor(async () => (await call("HEAD", `/minions/${sim.id}`, { token })).status === 404, 3000, "the leave");
    expect((await shard(sim.id).outbox()).filter((e) => e.id === sim.id).map((e) => e.type)).toEqual(["minion.joined", "minion.left"]);
    await runInDurableObject(shard(sim.id), (o) => {
      delete (o as unknown as Overridable).writeEvents;
    });
    expect(await runDurableObjectAlarm(shard(sim.id))).toBe(true);
    expect(await eventsOf(sim.id)).toEqual(["minion.joined", "minion.left"]);
    expect((await shard(sim.id).outbox()).filter((e) => e.id === sim.id)).toEqual([]);
    // The change feed reports both.
    const feed = await call("GET", "/minions?since=0&limit=1000", { token });
    expect(feed.body.changes.filter((c: { id: string }) => c.id === sim.id).map((c: { type: string }) => c.type)).toEqual(["joined", "left"]);
  });
});
