import { describe, expect, it } from "vitest";
import { ringsFromCertificate } from "../../functions/mesh/cert-rings";
import {
  applyAccusation,
  applyNote,
  checkAccusation,
  checkNote,
  dueRemovals,
  fullMask,
  type GroupView,
  gossipAdmission,
  maxByz,
  type Peer,
  rebuttalMask,
  validMask,
} from "../../functions/mesh/fireflies";
import { parseMemberFrame } from "../../functions/mesh/frames";
import { gossipPartners } from "../../functions/mesh/gossip";
import { MESH_DEFAULTS, meshGroupSettings } from "../../functions/mesh/group-settings";
import { planPings, probesPerRound, recordPing } from "../../functions/mesh/liveness";
import { dispatchable } from "../../functions/mesh/messaging";
import { neighbours, predecessor, ringOrder, ringPositions, successor } from "../../functions/mesh/ring";
import { bytesToB64, canonical, derToRaw, importMemberKey, noteContent, verifyWith } from "../../functions/mesh/signatures";
import { Identity, rawToDer } from "./members";

/** The 5-member fixture: ids are 32 bytes of 0x01 … 0x05 (orders checked independently with Python's hashlib). */
const ID = (i: number) => i.toString(16).padStart(2, "0").repeat(32);
const FIVE = [1, 2, 3, 4, 5].map(ID);

async function fixture(numRings = 10): Promise<Map<string, string[]>> {
  const pos = new Map<string, string[]>();
  for (const id of FIVE) pos.set(id, await ringPositions(id, numRings));
  return pos;
}

function view(pos: Map<string, string[]>, numRings: number, peers: Partial<Peer>[]): GroupView {
  return {
    numRings,
    positions: pos,
    peers: new Map(peers.map((p) => [p.id!, { live: true, note: null, accusations: new Map(), timerAt: null, ...p } as Peer])),
  };
}

describe("rings", () => {
  it("positions are SHA-256(id bytes ‖ decimal ring), rings 1..k", async () => {
    const [p1] = await ringPositions(ID(1), 1);
    expect(p1).toBe("f53da2d91faa5f40f69ae4db2fd46e101ceb86be61a81b21ea03d3d0e0b0c1d9");
  });

  it("orders the 5-member fixture bytewise on rings 1, 2 and 10 (ring 10 hashes the two characters '10')", async () => {
    const pos = await fixture();
    expect(ringOrder(pos, FIVE, 1)).toEqual([2, 4, 3, 5, 1].map(ID));
    expect(ringOrder(pos, FIVE, 2)).toEqual([5, 1, 2, 3, 4].map(ID));
    expect(ringOrder(pos, FIVE, 10)).toEqual([1, 2, 5, 4, 3].map(ID));
  });

  it("successor and predecessor wrap around; neighbours are deduplicated and never self", async () => {
    const pos = await fixture();
    expect(successor(pos, FIVE, 1, ID(4))).toBe(ID(3));
    expect(successor(pos, FIVE, 1, ID(1))).toBe(ID(2)); // wraps
    expect(predecessor(pos, FIVE, 1, ID(2))).toBe(ID(1)); // wraps
    expect(predecessor(pos, FIVE, 2, ID(1))).toBe(ID(5));
    expect(neighbours(pos, [ID(1), ID(2)], 1, ID(1))).toEqual([ID(2)]);
    expect(neighbours(pos, [ID(1)], 1, ID(1))).toEqual([]);
    // A member outside the set still has a place between two members.
    expect(successor(pos, [ID(2), ID(3), ID(1)], 1, ID(4))).toBe(ID(3));
  });
});

describe("notes and masks", () => {
  it("maxByz is k/2 − 1 (4 for 10 rings, 0 for 1 or 2) and a mask may disable at most that many rings", () => {
    expect([1, 2, 3, 10, 11].map(maxByz)).toEqual([0, 0, 0, 4, 4]);
    expect(validMask(fullMask(10), 10)).toBe(true);
    expect(validMask(0b0000111111, 10)).toBe(true); // 4 disabled
    expect(validMask(0b0000011111, 10)).toBe(false); // 5 disabled
    expect(validMask(1 << 10, 10)).toBe(false); // a ring that does not exist
    expect(validMask(0b10, 2)).toBe(false);
  });

  it("accepts only strictly newer epochs from known members with valid masks", async () => {
    const v = view(await fixture(), 10, [{ id: ID(1), note: { id: ID(1), epoch: 3, mask: 1023, sig: "" } }]);
    expect(checkNote(v, { id: ID(1), epoch: 4, mask: 1023 })).toBeNull();
    expect(checkNote(v, { id: ID(1), epoch: 3, mask: 1023 })).toBe("stale_epoch");
    expect(checkNote(v, { id: ID(1), epoch: 2, mask: 1023 })).toBe("stale_epoch");
    expect(checkNote(v, { id: ID(1), epoch: 5, mask: 0b11111 })).toBe("invalid_mask");
    expect(checkNote(v, { id: ID(9), epoch: 1, mask: 1023 })).toBe("unknown_member");
  });

  it("a rebuttal disables the accused ring, re-enabling another when maxByz are already off, and keeps the mask when maxByz is 0", () => {
    expect(rebuttalMask(1023, 3, 10)).toBe(1023 & ~0b100);
    const fourOff = 0b1111110000; // rings 1-4 off
    const r = rebuttalMask(fourOff, 7, 10);
    expect(validMask(r, 10)).toBe(true);
    expect((r >> 6) & 1).toBe(0); // ring 7 now off
    expect(r & 1).toBe(1); // ring 1 back on
    expect(rebuttalMask(0b11, 1, 2)).toBe(0b11);
  });
});

describe("accusations", () => {
  async function accusable() {
    const pos = await fixture();
    const note = { id: ID(3), epoch: 2, mask: 1023 & ~(1 << 4), sig: "" }; // ring 5 disabled
    const v = view(
      pos,
      10,
      FIVE.map((id) => ({ id, note: id === ID(3) ? note : { id, epoch: 1, mask: 1023, sig: "" } })),
    );
    // On ring 1 the order is 2,4,3,5,1: 4 is 3's predecessor.
    return v;
  }

  it("accepts one from the accused's ring predecessor, on an enabled ring, with the current epoch", async () => {
    expect(checkAccusation(await accusable(), { accused: ID(3), accuser: ID(4), epoch: 2, ring: 1 })).toBeNull();
  });

  it("rejects one from a member that is not the accused's predecessor on that ring", async () => {
    expect(checkAccusation(await accusable(), { accused: ID(3), accuser: ID(5), epoch: 2, ring: 1 })).toBe("not_predecessor");
  });

  it("rejects one on a ring the accused's mask disables", async () => {
    const v = await accusable();
    const order = ringOrder(v.positions, FIVE, 5);
    const pred = order[(order.indexOf(ID(3)) + 4) % 5];
    expect(checkAccusation(v, { accused: ID(3), accuser: pred, epoch: 2, ring: 5 })).toBe("ring_disabled");
  });

  it("rejects one that names an older or newer epoch than the accused's note", async () => {
    const v = await accusable();
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(4), epoch: 1, ring: 1 })).toBe("invalid_epoch");
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(4), epoch: 3, ring: 1 })).toBe("invalid_epoch");
  });

  it("rejects one against a member with no note, unknown members, a ring outside 1..k, and a duplicate", async () => {
    const v = await accusable();
    (v.peers.get(ID(2)) as Peer).note = null;
    expect(checkAccusation(v, { accused: ID(2), accuser: ID(1), epoch: 1, ring: 1 })).toBe("no_note");
    expect(checkAccusation(v, { accused: ID(9), accuser: ID(4), epoch: 2, ring: 1 })).toBe("unknown_member");
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(4), epoch: 2, ring: 11 })).toBe("invalid_ring");
    const a = { accused: ID(3), accuser: ID(4), epoch: 2, ring: 1, sig: "" };
    applyAccusation(v.peers.get(ID(3)) as Peer, a, 0, 60_000);
    expect(checkAccusation(v, a)).toBe("duplicate");
  });

  it("judges predecessors on the live ring, with a non-live accuser placed by its hash", async () => {
    const v = await accusable();
    (v.peers.get(ID(4)) as Peer).live = false;
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(4), epoch: 2, ring: 1 })).toBeNull();
    // With 4 out of the live ring, 2 is 3's live predecessor on ring 1 and may accuse; 5 still may not.
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(2), epoch: 2, ring: 1 })).toBeNull();
    expect(checkAccusation(v, { accused: ID(3), accuser: ID(5), epoch: 2, ring: 1 })).toBe("not_predecessor");
  });

  it("an accepted accusation starts the removal timer; a newer note clears it and the peer stays live; removal keeps the certificate", async () => {
    const v = await accusable();
    const p = v.peers.get(ID(3)) as Peer;
    expect(applyAccusation(p, { accused: ID(3), accuser: ID(4), epoch: 2, ring: 1, sig: "" }, 1000, 60_000)).toEqual({ timerStarted: true });
    expect(p.timerAt).toBe(61_000);
    expect(dueRemovals(v, 60_999)).toEqual([]);
    expect(dueRemovals(v, 61_000)).toEqual([ID(3)]);
    const eff = applyNote(p, { id: ID(3), epoch: 3, mask: 1023, sig: "" });
    expect(eff).toMatchObject({ rebutted: true, timerCancelled: true, accusationsLeft: 0 });
    expect(p.timerAt).toBeNull();
    expect(p.live).toBe(true);
  });
});

describe("signatures", () => {
  it("Sign/VerifySignature: verifies raw r‖s and DER over SHA-256 with the member's key; a tampered content or another key is false", async () => {
    for (const curve of ["P-256", "P-384", "P-521"] as const) {
      const a = await Identity.create({ curve });
      const b = await Identity.create({ curve });
      const key = await importMemberKey(a.record.spkiDer, curve);
      const content = new TextEncoder().encode("hello");
      const raw = await a.sign(content);
      expect(await verifyWith(key, curve, content, raw)).toBe(true);
      const derSig = bytesToB64(rawToDer(Uint8Array.from(atob(raw), (c) => c.charCodeAt(0))));
      expect(await verifyWith(key, curve, content, derSig)).toBe(true);
      expect(await verifyWith(key, curve, new TextEncoder().encode("hellO"), raw)).toBe(false);
      expect(await verifyWith(key, curve, content, await b.sign(content))).toBe(false);
      expect(await verifyWith(key, curve, content, "not base64!")).toBe(false);
    }
  });

  it("rejects DER with trailing bytes and canonicalises signed objects with sorted keys", () => {
    expect(derToRaw(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00), "P-256")).toBeNull();
    expect(new TextDecoder().decode(canonical({ b: 1, a: "x" }))).toBe('{"a":"x","b":1}');
    expect(new TextDecoder().decode(noteContent("g", { id: "ab", epoch: 1, mask: 3 }))).toBe('{"epoch":1,"group":"g","id":"ab","mask":3,"type":"mesh-note"}');
  });
});

describe("failure detection, gossip selection, message queueing", () => {
  it("ping_limit consecutive failures make a suspect; a valid pong resets the count", () => {
    let f = 0;
    f = recordPing(f, false, 3).failures;
    f = recordPing(f, false, 3).failures;
    expect(recordPing(f, true, 3)).toEqual({ failures: 0, suspect: false });
    expect(recordPing(f, false, 3)).toEqual({ failures: 3, suspect: true });
  });

  it("each monitor probes the successor on the next ring, pings_per_interval a round (0 means 1, capped at k)", async () => {
    const pos = await fixture(3);
    expect(probesPerRound(0, 3)).toBe(1);
    expect(probesPerRound(5, 3)).toBe(3);
    const plan = planPings(pos, FIVE, [ID(4)], new Map(), 2, 3);
    expect(plan.pings.map((p) => p.ring)).toEqual([1, 2]);
    expect(plan.pings[0].target).toBe(ID(3));
    expect(plan.cursors.get(ID(4))).toBe(2);
    const next = planPings(pos, FIVE, [ID(4)], plan.cursors, 2, 3);
    expect(next.pings.map((p) => p.ring)).toEqual([3, 1]);
  });

  it("gossips with the current ring's successor and predecessor, advancing the ring round-robin", async () => {
    const pos = await fixture();
    expect(gossipPartners(pos, FIVE, ID(3), 0, 10)).toEqual({ ring: 1, partners: [ID(5), ID(4)] });
    expect(gossipPartners(pos, FIVE, ID(3), 10, 10).ring).toBe(1);
  });

  it("the receiver takes gossip from neighbours, joining and accused senders, and refuses other members", async () => {
    const pos = await fixture(1);
    const v = view(
      pos,
      1,
      FIVE.map((id) => ({ id, note: { id, epoch: 1, mask: 1, sig: "" } })),
    );
    // Ring 1: 2,4,3,5,1 — 5 is 3's successor, 2 is not next to 3.
    expect(gossipAdmission(v, ID(5), ID(3))).toBe("neighbour");
    expect(gossipAdmission(v, ID(2), ID(3))).toBe("not_my_neighbour");
    (v.peers.get(ID(2)) as Peer).accusations.set(1, { accused: ID(2), accuser: ID(1), epoch: 1, ring: 1, sig: "" });
    expect(gossipAdmission(v, ID(2), ID(3))).toBe("accused");
    (v.peers.get(ID(2)) as Peer).live = false;
    expect(gossipAdmission(v, ID(2), ID(3))).toBe("joining");
  });

  it("lets out only max_concurrent_messages at once, oldest first; the rest stay queued", () => {
    const q = [3, 1, 2, 5, 4].map((seq) => ({ key: `k${seq}`, sender: "a", seq }));
    expect(dispatchable(q, 0, 2).map((m) => m.seq)).toEqual([1, 2]);
    expect(dispatchable(q, 2, 2)).toEqual([]);
    expect(dispatchable(q, 4, 5).map((m) => m.seq)).toEqual([1]);
  });
});

describe("frames, certificates, settings", () => {
  it("validates member frames with zod and explains what is wrong", () => {
    expect(parseMemberFrame("{")).toEqual({ ok: false, error: "frame is not JSON" });
    const r = parseMemberFrame(JSON.stringify({ type: "send", rid: "1", data: "aGk=" }));
    expect(r.ok).toBe(false);
    expect(parseMemberFrame(JSON.stringify({ type: "pong", pid: "p", sig: "AAAA" })).ok).toBe(true);
    expect(parseMemberFrame(JSON.stringify({ type: "warp" })).ok).toBe(false);
  });

  it("reads the ring count from extension 2.5.13.37 as 4 raw little-endian bytes", () => {
    const ext = Uint8Array.of(0x30, 0x0d, 0x06, 0x03, 0x55, 0x0d, 0x25, 0x04, 0x04, 0x0a, 0x00, 0x00, 0x00);
    expect(ringsFromCertificate(Uint8Array.of(0x30, 0x82, 0x01, 0x00, ...ext))).toBe(10);
    const critical = Uint8Array.of(0x06, 0x03, 0x55, 0x0d, 0x25, 0x01, 0x01, 0xff, 0x04, 0x04, 0x20, 0x00, 0x00, 0x00);
    expect(ringsFromCertificate(critical)).toBe(32);
    expect(ringsFromCertificate(Uint8Array.of(1, 2, 3))).toBeNull();
  });

  it("has Ifrit's defaults and refuses out-of-range values with misconfigured", () => {
    expect(MESH_DEFAULTS).toMatchObject({
      gossipIntervalS: 10,
      monitorIntervalS: 10,
      viewUpdateIntervalS: 10,
      pingLimit: 3,
      pingsPerInterval: 3,
      removalTimeoutS: 60,
      maxConcurrentMessages: 5,
      useCompression: true,
    });
    expect(meshGroupSettings({} as Env)).toEqual(MESH_DEFAULTS);
    expect(() => meshGroupSettings({ MESH_PING_LIMIT: "0" } as unknown as Env)).toThrow(/MESH_PING_LIMIT/);
    expect(() => meshGroupSettings({ MESH_USE_COMPRESSION: "maybe" } as unknown as Env)).toThrow(/MESH_USE_COMPRESSION/);
    expect(meshGroupSettings({ MESH_REMOVAL_TIMEOUT_S: "5" } as unknown as Env).removalTimeoutS).toBe(5);
  });
});
