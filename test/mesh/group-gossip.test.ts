import { describe, expect, it } from "vitest";
import { allNeighbours, gossipPartners } from "../../functions/mesh/gossip";
import { predecessor, ringPositions } from "../../functions/mesh/ring";
import { b64, type SimMember, startGroup, tick, unb64, waitFor } from "./members";

async function positions(members: SimMember[]) {
  const pos = new Map<string, string[]>();
  for (const m of members) pos.set(m.id, await ringPositions(m.id, 10));
  return pos;
}

describe("gossip", () => {
  it("content set by A reaches only A's current ring neighbours each gossip_interval, and their replies reach A", async () => {
    const { group, members } = await startGroup(6);
    const a = members[0];
    for (const m of members) m.gossipHandler = (d, from) => ({ data: b64(`${m.id.slice(0, 6)} got ${unb64(d)} from ${from.slice(0, 6)}`) });
    a.send({ type: "gossip-set", data: b64("rumour") });
    await new Promise((r) => setTimeout(r, 20));
    const pos = await positions(members);
    const ids = members.map((m) => m.id);
    for (let round = 0; round < 3; round++) {
      const expected = gossipPartners(pos, ids, a.id, round, 10).partners.sort();
      const before = new Map(members.map((m) => [m.id, m.of("gossip").length]));
      const responses = a.of("gossip-response").length;
      await tick(group, members);
      await waitFor(() => a.of("gossip-response").length === responses + expected.length, 3000, "gossip responses");
      const got = members
        .filter((m) => m.of("gossip").length > before.get(m.id)!)
        .map((m) => m.id)
        .sort();
      expect(got).toEqual(expected);
      for (const m of members) for (const g of m.of("gossip").slice(before.get(m.id)!)) expect(g.from).toBe(a.id);
      const replies = a.of("gossip-response").slice(responses);
      expect(replies.map((r) => r.from).sort()).toEqual(expected);
      expect(replies.every((r) => unb64(r.data).endsWith(`got rumour from ${a.id.slice(0, 6)}`))).toBe(true);
    }
    for (const m of members) m.close();
  });

  it("gossip to a non-neighbour is refused with errNotMyNeighbour; a neighbour takes it; an accused sender learns its accusations", async () => {
    // Two rings (from the certificates' extension), so most of 8 members are nobody's neighbour.
    const { members, stub } = await startGroup(8, { rings: 2 });
    expect((await stub.snapshot()).numRings).toBe(2);
    const pos = new Map<string, string[]>();
    for (const m of members) pos.set(m.id, await ringPositions(m.id, 2));
    const ids = members.map((m) => m.id);
    const a = members[0];
    const near = allNeighbours(pos, ids, a.id, 2);
    const far = members.find((m) => m !== a && !near.has(m.id))!;
    const neighbour = members.find((m) => near.has(m.id))!;
    a.send({ type: "gossip-to", rid: "n", to: neighbour.id, data: b64("hello") });
    await waitFor(() => a.of("gossip-result").length === 1);
    expect(a.of("gossip-result")[0]).toMatchObject({ rid: "n", admission: "neighbour" });
    await waitFor(() => neighbour.of("gossip").length === 1);
    await waitFor(() => a.of("gossip-response").length === 1);
    a.send({ type: "gossip-to", rid: "f", to: far.id, data: b64("hello") });
    await waitFor(() => a.of("gossip-result").length === 2);
    expect(a.of("gossip-result")[1]).toMatchObject({ rid: "f", admission: "not_my_neighbour", error: "errNotMyNeighbour" });
    expect(far.of("gossip")).toEqual([]);
    // Accused, it may reach that member, and learns its accusations so that it can rebut.
    a.autoRebut = false;
    const pred = members.find((m) => m.id === predecessor(pos, ids, 1, a.id))!;
    await pred.accuse(a.id, 1, 1);
    await waitFor(() => a.of("accused").length === 1);
    a.send({ type: "gossip-to", rid: "acc", to: far.id, data: b64("hello") });
    await waitFor(() => a.of("gossip-result").length === 3);
    expect(a.of("gossip-result")[2]).toMatchObject({ rid: "acc", admission: "accused" });
    expect(a.of("gossip-result")[2].accusations[0]).toMatchObject({ accused: a.id, accuser: pred.id });
    for (const m of members) m.close();
  });
});

describe("view convergence", () => {
  it("N members converge on the same live view within one gossip round, and on a removal within the round after it", async () => {
    const { group, members, stub } = await startGroup(7);
    await tick(group, members);
    await waitFor(() => members.every((m) => m.liveView().length === 7), 3000, "convergence");
    const truth = (await stub.liveView()).map((m) => m.id).sort();
    for (const m of members) expect(m.liveView()).toEqual(truth);
    // Every member also holds every certificate key, so it can VerifySignature locally.
    for (const m of members) expect([...m.view.values()].every((v) => typeof v.spkiDer === "string" && v.namedCurve === "P-256")).toBe(true);
    // One leaves and is removed; the others learn it at the next gossip round.
    const gone = members[3];
    gone.close();
    const rest = members.filter((m) => m !== gone);
    for (let i = 0; i < 30 && (await stub.liveView()).some((m) => m.id === gone.id); i++) await tick(group, rest);
    expect((await stub.liveView()).some((m) => m.id === gone.id)).toBe(false);
    await tick(group, rest);
    await tick(group, rest);
    await waitFor(() => rest.every((m) => !m.liveView().includes(gone.id)), 3000, "removal converged");
    const after = (await stub.liveView()).map((m) => m.id).sort();
    for (const m of rest) expect(m.liveView()).toEqual(after);
    for (const m of rest) m.close();
  });
});
