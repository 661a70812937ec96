import { describe, expect, it } from "vitest";
import { type ChainRow, canonicalEntry, canonicalJson, entryHash, GENESIS, sealsFor, verifyChain } from "../../functions/audit/chain";

function raw(seq: number, over: Partial<ChainRow> = {}): ChainRow {
  return {
    seq,
    at: `2026-05-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
    actor: "operator:admin",
    action: "operator.created",
    subject_kind: "operator",
    subject_id: `op${seq}`,
    data: canonicalJson({ role: "viewer", n: seq }),
    prev_hash: null,
    hash: null,
    ...over,
  };
}

/** A sealed chain of n rows, built with the sealer itself. */
async function chain(n: number): Promise<ChainRow[]> {
  const rows = Array.from({ length: n }, (_, i) => raw(i + 1));
  const seals = await sealsFor(GENESIS, rows);
  return rows.map((r, i) => ({ ...r, prev_hash: seals[i].prev_hash, hash: seals[i].hash }));
}

describe("audit chain (pure)", () => {
  it("canonical JSON sorts keys at every depth, so one value has one text", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ x: undefined, y: 1 })).toBe('{"y":1}');
  });

  it("the hash covers every field and the previous hash: changing any one changes it", async () => {
    const r = raw(1);
    const h = await entryHash(r, GENESIS.hash);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    for (const k of ["at", "actor", "action", "subject_kind", "subject_id", "data"] as const)
      expect(await entryHash({ ...r, [k]: `${r[k]}x` }, GENESIS.hash), k).not.toBe(h);
    expect(await entryHash({ ...r, seq: 2 }, GENESIS.hash)).not.toBe(h);
    expect(await entryHash(r, "1".repeat(64))).not.toBe(h);
    // Field boundaries cannot be shifted: "ab"+"c" and "a"+"bc" encode differently.
    expect(canonicalEntry({ ...r, actor: "ab", action: "c" }, "")).not.toBe(canonicalEntry({ ...r, actor: "a", action: "bc" }, ""));
  });

  it("a sealed chain verifies up to its last seq", async () => {
    const rows = await chain(5);
    const check = await verifyChain(rows);
    expect(check).toEqual({ verified: { seq: 5, hash: rows[4].hash }, pending: 0, problem: null });
  });

  it("verifies page by page with the state carried over, as the whole at once", async () => {
    const rows = await chain(7);
    let state = await verifyChain(rows.slice(0, 3));
    state = await verifyChain(rows.slice(3), state);
    expect(state).toEqual(await verifyChain(rows));
  });

  it("a tampered field is named by its seq", async () => {
    const rows = await chain(5);
    rows[2] = { ...rows[2], data: canonicalJson({ role: "admin", n: 3 }) };
    const check = await verifyChain(rows);
    expect(check.problem).toEqual({ seq: 3, reason: "hash does not match the row's content" });
    expect(check.verified.seq).toBe(2);
  });

  it("a tampered row re-hashed by the tamperer still breaks the next row's link", async () => {
    const rows = await chain(5);
    const forged = { ...rows[2], actor: "operator:mallory" };
    rows[2] = { ...forged, hash: await entryHash(forged, rows[1].hash!) };
    expect((await verifyChain(rows)).problem).toEqual({ seq: 4, reason: "prev_hash is not the previous row's hash" });
  });

  it("a deleted row is named as the missing seq", async () => {
    const rows = await chain(5);
    rows.splice(1, 1);
    expect((await verifyChain(rows)).problem).toEqual({ seq: 2, reason: "seq 2 is missing" });
  });

  it("reordered rows (seq swapped with the content) break the chain at the first moved row", async () => {
    const rows = await chain(4);
    const swapped = [rows[0], { ...rows[2], seq: 2 }, { ...rows[1], seq: 3 }, rows[3]];
    const check = await verifyChain(swapped);
    expect(check.problem?.seq).toBe(2);
  });

  it("rows out of seq order are refused", async () => {
    const rows = await chain(3);
    expect((await verifyChain([rows[0], rows[2], rows[1]])).problem).toEqual({ seq: 2, reason: "seq 2 is missing" });
  });

  it("unsealed rows at the end are pending, not a break; a sealed row after one is", async () => {
    const rows = await chain(3);
    const pending = [...rows, raw(4), raw(5)];
    expect(await verifyChain(pending)).toMatchObject({ verified: { seq: 3 }, pending: 2, problem: null });
    const seals = await sealsFor({ seq: 3, hash: rows[2].hash! }, [raw(4), raw(5)]);
    const bad = [...rows, raw(4), { ...raw(5), ...seals[1] }];
    expect((await verifyChain(bad)).problem).toEqual({ seq: 5, reason: "sealed after 1 unsealed row(s)" });
  });

  it("the sealer stops at a gap instead of chaining across it", async () => {
    const seals = await sealsFor(GENESIS, [raw(1), raw(2), raw(4)]);
    expect(seals.map((s) => s.seq)).toEqual([1, 2]);
    expect(seals[1].prev_hash).toBe(seals[0].hash);
  });
});
