import { describe, expect, it } from "vitest";
import { fullMask } from "../../functions/mesh/fireflies";
import { predecessor, ringPositions, successor } from "../../functions/mesh/ring";
import { type groupStub, type SimMember, startGroup, tick, tickUntil, waitFor } from "./members";

/** Ring 1 neighbours of `m` among the live members. */
async function ring1(members: SimMember[], m: SimMember) {
  const pos = new Map<string, string[]>();
  for (const x of members) pos.set(x.id, await ringPositions(x.id, 10));
  const ids = members.map((x) => x.id);
  return { pred: members.find((x) => x.id === predecessor(pos, ids, 1, m.id))!, succ: members.find((x) => x.id === successor(pos, ids, 1, m.id))! };
}

const live = async (stub: ReturnType<typeof groupStub>) => (await stub.liveView()).map((m) => m.id).sort();

describe("failure detection (pings relayed between ring neighbours)", () => {
  it("a monitor round pings each member's ring successor; valid signed pongs keep everyone's counter at zero", async () => {
    const { group, members, stub } = await startGroup(4);
    await tick(group, members); // the first monitor round (time jumps monitor_interval)
    const results = members.flatMap((m) => m.of("ping-result"));
    expect(results.length).toBe(4 * 3); // pings_per_interval = 3 probes per monitor
    expect(results.every((r) => r.ok && r.failures === 0 && typeof r.sig === "string")).toBe(true);
    expect((await stub.pingFailures()).every((f) => f.failures === 0)).toBe(true);
    for (const m of members) m.close();
  });

  it("ping_limit consecutive missed pongs make the monitor accuse; the accusation is signed by the predecessor and accepted", async () => {
    const { group, members, stub } = await startGroup(4);
    const victim = members[0];
    victim.pings = "silent";
    victim.autoRebut = false;
    const { pred } = await ring1(members, victim);
    await tickUntil(group, members, () => pred.of("suspect").some((s) => s.accused === victim.id), 20, "a suspect");
    // Ifrit counts per peer, whichever ring the probe went out on.
    const fails = pred.of("ping-result").filter((r) => r.target === victim.id);
    expect(fails.map((r) => r.failures).slice(0, 3)).toEqual([1, 2, 3]);
    await waitFor(async () => (await stub.snapshot()).members.find((m) => m.id === victim.id)!.accusations.length > 0);
    const snap = await stub.snapshot();
    expect(snap.members.find((m) => m.id === victim.id)!.accusations.some((a) => a.accuser === pred.id)).toBe(true);
    expect(snap.recentAccusations.some((a) => a.accused === victim.id && a.outcome === "accepted")).toBe(true);
    for (const m of members) m.close();
  });

  it("a valid signed pong resets the count: failures must be consecutive", async () => {
    const { group, members, stub } = await startGroup(3);
    const victim = members[0];
    victim.dropPings = 2; // fewer than ping_limit, then it answers again
    await tickUntil(group, members, async () => (await stub.pingFailures()).some((f) => f.target === victim.id && f.failures > 0), 20, "a failure");
    await tickUntil(group, members, async () => (await stub.pingFailures()).filter((f) => f.target === victim.id).every((f) => f.failures === 0), 20);
    expect(members.flatMap((m) => m.of("suspect"))).toEqual([]);
    for (const m of members) m.close();
  });

  it("an invalid pong signature counts as a failure", async () => {
    const { group, members } = await startGroup(3);
    members[1].pings = "badsig";
    await tick(group, members);
    await tick(group, members);
    const results = members.flatMap((m) => m.of("ping-result")).filter((r) => r.target === members[1].id);
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => !r.ok && r.sig === null)).toBe(true);
    for (const m of members) m.close();
  });
});

describe("removal and rebuttal", () => {
  it("an unrebutted accusation removes the member from Members() after removal_timeout; its certificate stays in the full view", async () => {
    const { group, members, stub } = await startGroup(4);
    const victim = members[0];
    victim.close(); // stops answering pings altogether
    await waitFor(() => victim.closed);
    const others = members.slice(1);
    await tickUntil(group, others, async () => (await stub.snapshot()).members.find((m) => m.id === victim.id)!.removalAt !== null, 20, "a timer");
    const snap = await stub.snapshot();
    const timerAt = Date.parse(snap.members.find((m) => m.id === victim.id)!.removalAt!);
    expect((await live(stub)).includes(victim.id)).toBe(true);
    await tickUntil(group, others, async () => !(await live(stub)).includes(victim.id), 20, "removal");
    // Not before the deadline: the group's clock is at or past it.
    expect(Date.parse((await stub.snapshot()).now)).toBeGreaterThanOrEqual(timerAt);
    expect(timerAt - Date.parse(snap.recentAccusations.find((a) => a.outcome === "accepted")!.at)).toBe(60_000);
    const after = await stub.snapshot();
    expect(after.members.find((m) => m.id === victim.id)).toMatchObject({ live: false, revoked: false });
    expect(after.recentAccusations.some((a) => a.accused === victim.id && a.outcome === "removed")).toBe(true);
    for (const m of others) m.close();
  });

  it("the accused rebuts with note epoch+1 disabling the accused ring: accusation discarded, timer cancelled, still live", async () => {
    const { group, members, stub } = await startGroup(4);
    const victim = members[0];
    const { pred } = await ring1(members, victim);
    await pred.accuse(victim.id, 1, 1);
    await waitFor(() => victim.of("note-accepted").length === 2, 3000, "the rebuttal");
    expect(victim.of("accused")[0].accusation).toMatchObject({ accuser: pred.id, ring: 1, epoch: 1 });
    expect(victim.of("note-accepted")[1]).toMatchObject({ epoch: 2, mask: fullMask(10) & ~1, live: true });
    const snap = await stub.snapshot();
    const v = snap.members.find((m) => m.id === victim.id)!;
    expect(v.accusations).toEqual([]);
    expect(v.removalAt).toBeNull();
    expect(snap.recentAccusations.some((a) => a.accused === victim.id && a.outcome === "rebutted")).toBe(true);
    // Time passes well beyond removal_timeout: still live.
    for (let i = 0; i < 8; i++) await tick(group, members);
    expect((await live(stub)).includes(victim.id)).toBe(true);
    for (const m of members) m.close();
  });

  it("a rebuttal after removal re-adds the member to the live view", async () => {
    const { group, members, stub } = await startGroup(3);
    const victim = members[0];
    victim.autoRebut = false;
    const { pred } = await ring1(members, victim);
    await pred.accuse(victim.id, 1, 1);
    await waitFor(() => victim.of("accused").length === 1);
    await tickUntil(group, members, async () => !(await live(stub)).includes(victim.id), 20, "removal");
    await victim.rebut(1);
    await waitFor(async () => (await live(stub)).includes(victim.id), 3000, "re-added");
    for (const m of members) m.close();
  });

  it("rejects accusations from a non-predecessor, on a disabled ring, with a stale epoch, or badly signed, each with its reason", async () => {
    const { members, stub } = await startGroup(4);
    const victim = members[0];
    victim.autoRebut = false;
    const { pred } = await ring1(members, victim);
    const stranger = members.find((m) => m !== victim && m !== pred)!;
    // A rebuttal that disables ring 2, so that ring is off in the current note (epoch 2).
    await victim.rebut(2);
    await waitFor(() => victim.of("note-accepted").length === 2);
    const pos = new Map<string, string[]>();
    for (const x of members) pos.set(x.id, await ringPositions(x.id, 10));
    const pred2 = members.find(
      (x) =>
        x.id ===
        predecessor(
          pos,
          members.map((m) => m.id),
          2,
          victim.id,
        ),
    )!;
    const cases: [SimMember, Record<string, unknown>, string][] = [
      [stranger, await stranger.accusation(victim.id, 1, 2), "not_predecessor"],
      [pred2, await pred2.accusation(victim.id, 2, 2), "ring_disabled"],
      [pred, await pred.accusation(victim.id, 1, 1), "invalid_epoch"],
      [pred, await pred.accusation(victim.id, 1, 2, stranger.me), "bad_signature"],
      [pred, { ...(await pred.accusation(victim.id, 1, 2)), accuser: stranger.id }, "a member accuses only in its own name"],
    ];
    for (const [who, accusation, why] of cases) {
      const before = who.of("error").length;
      who.send({ type: "accuse", accusation });
      await waitFor(() => who.of("error").length > before, 3000, why);
      expect(who.of("error").at(-1)).toMatchObject({ code: "accusation_rejected", error: why });
    }
    expect((await stub.snapshot()).members.find((m) => m.id === victim.id)!.accusations).toEqual([]);
    for (const m of members) m.close();
  });

  it("notes: a stale epoch, an invalid mask or a bad signature is rejected; the member's note stays", async () => {
    const { members, stub } = await startGroup(2);
    const m = members[0];
    const send = async (note: Record<string, unknown>, why: string) => {
      const before = m.of("error").length;
      m.send({ type: "note", note });
      await waitFor(() => m.of("error").length > before);
      expect(m.of("error").at(-1)).toMatchObject({ code: "note_rejected", error: why });
    };
    m.epoch = 0;
    await send(await m.nextNote(fullMask(10)), "stale_epoch");
    await send(await m.nextNote(0b11111), "invalid_mask");
    const forged = await m.nextNote(fullMask(10));
    await send({ ...forged, sig: await members[1].me.sign(new TextEncoder().encode("x")) }, "bad_signature");
    expect((await stub.snapshot()).members.find((x) => x.id === m.id)!.note!.epoch).toBe(1);
    for (const x of members) x.close();
  });
});
