import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { meshMemberEvent } from "../../functions/mesh/group-events";
import { predecessor, ringPositions } from "../../functions/mesh/ring";
import { type groupStub, type SimMember, startGroup, tickUntil, waitFor } from "./members";

async function pred1(members: SimMember[], m: SimMember) {
  const pos = new Map<string, string[]>();
  for (const x of members) pos.set(x.id, await ringPositions(x.id, 10));
  return members.find(
    (x) =>
      x.id ===
      predecessor(
        pos,
        members.map((x) => x.id),
        1,
        m.id,
      ),
  )!;
}

const live = async (stub: ReturnType<typeof groupStub>) => (await stub.liveView()).map((m) => m.id);

/** The group's membership events in D1, in order, after the object's outbox is written. */
async function eventsOf(stub: ReturnType<typeof groupStub>, group: string) {
  expect(await stub.flushEvents()).toBe(0);
  const r = await env.DB.prepare("SELECT type, actor, subject_kind, subject_id, data FROM events WHERE type LIKE 'mesh.member.%' ORDER BY id").all<{
    type: string;
    actor: string;
    subject_kind: string;
    subject_id: string;
    data: string;
  }>();
  return r.results.map((e) => ({ ...e, data: JSON.parse(e.data) })).filter((e) => e.data.group === group);
}

describe("mesh membership events", () => {
  it("meshMemberEvent: subject mesh_member, actor the member or its accuser, data with the group", () => {
    const at = Date.parse("2025-01-02T03:04:05.678Z");
    expect(meshMemberEvent("g", at, { type: "accused", id: "aa", accuser: "bb", ring: 2, epoch: 3 })).toEqual({
      at: "2025-01-02T03:04:05Z",
      type: "mesh.member.accused",
      actor: "member:bb",
      subject: { kind: "mesh_member", id: "aa" },
      data: { group: "g", accuser: "bb", ring: 2, epoch: 3 },
    });
    expect(meshMemberEvent("g", at, { type: "removed", id: "aa", reason: "removal_timeout" })).toMatchObject({
      actor: "system",
      data: { reason: "removal_timeout" },
    });
    expect(meshMemberEvent("g", at, { type: "admitted", id: "aa", epoch: 1 }).actor).toBe("member:aa");
  });

  it("records admitted, accused, removed, rebutted (re-admitted) and revoked for the members' lives, written to D1 by the group object", async () => {
    const { group, members, stub } = await startGroup(3);
    let ev = await eventsOf(stub, group);
    expect(ev.map((e) => [e.type, e.subject_kind, e.subject_id, e.actor, e.data.epoch])).toEqual(
      members.map((m) => ["mesh.member.admitted", "mesh_member", m.id, `member:${m.id}`, 1]),
    );

    const victim = members[0];
    victim.autoRebut = false;
    const pred = await pred1(members, victim);
    await pred.accuse(victim.id, 1, 1);
    await waitFor(() => victim.of("accused").length === 1);
    await tickUntil(group, members, async () => !(await live(stub)).includes(victim.id), 20, "removal");
    await victim.rebut(1);
    await waitFor(async () => (await live(stub)).includes(victim.id), 3000, "re-added");
    ev = (await eventsOf(stub, group)).slice(3);
    expect(ev.map((e) => ({ type: e.type, id: e.subject_id, actor: e.actor, data: e.data }))).toEqual([
      { type: "mesh.member.accused", id: victim.id, actor: `member:${pred.id}`, data: { group, accuser: pred.id, ring: 1, epoch: 1 } },
      { type: "mesh.member.removed", id: victim.id, actor: "system", data: { group, reason: "removal_timeout" } },
      { type: "mesh.member.rebutted", id: victim.id, actor: `member:${victim.id}`, data: { group, epoch: 2, mask: expect.any(Number) } },
      { type: "mesh.member.admitted", id: victim.id, actor: `member:${victim.id}`, data: { group, epoch: 2 } },
    ]);

    await stub.revoke(members[1].id);
    ev = (await eventsOf(stub, group)).slice(7);
    expect(ev.map((e) => [e.type, e.subject_id, e.actor])).toEqual([["mesh.member.revoked", members[1].id, "system"]]);
    for (const m of members) m.close();
  });
});
