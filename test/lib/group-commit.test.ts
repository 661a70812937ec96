import { describe, expect, it } from "vitest";
import { GroupCommit, type GroupCommitOptions } from "../../functions/lib/group-commit";

type Item = { name: string; size: number; fail?: boolean };

/** A GroupCommit over a fake database whose round trips the test releases by hand. */
function harness(over: Partial<GroupCommitOptions<Item, string>> = {}) {
  const trips: { items: string[]; release: () => void; fail: (e: unknown) => void }[] = [];
  const alone: string[] = [];
  const kept: Promise<unknown>[] = [];
  const gc = new GroupCommit<Item, string>({
    maxStatements: 6,
    exec: (items) =>
      new Promise((resolve, reject) => {
        trips.push({
          items: items.map((i) => i.name),
          release: () => resolve(items.map((i) => `ok:${i.name}`)),
          fail: reject,
        });
      }),
    execOne: async (item) => {
      alone.push(item.name);
      if (item.fail) throw new Error(`SQLITE_CONSTRAINT: ${item.name}`);
      return `alone:${item.name}`;
    },
    isolatable: (e) => String(e).includes("SQLITE_CONSTRAINT"),
    previousFlushWaitMs: 1_000,
    memberWaitMs: 2_000,
    stalled: () => new Error("stalled"),
    ...over,
  });
  const submit = (name: string, size = 2, fail = false) => gc.submit({ name, size, fail }, size, (w) => kept.push(w));
  const tick = () => new Promise((r) => setTimeout(r, 0));
  return { gc, trips, alone, kept, submit, tick };
}

describe("group commit", () => {
  it("flushes a lone request at once, without waiting for company", async () => {
    const h = harness();
    const p = h.submit("a");
    await h.tick();
    expect(h.trips.map((t) => t.items)).toEqual([["a"]]);
    h.trips[0].release();
    await expect(p).resolves.toBe("ok:a");
    expect(h.kept).toHaveLength(1);
  });

  it("lets requests that arrive during a flush share the next round trip, each getting its own result", async () => {
    const h = harness();
    const a = h.submit("a");
    await h.tick();
    const rest = ["b", "c", "d"].map((n) => h.submit(n));
    await h.tick();
    expect(h.trips).toHaveLength(1); // b, c and d wait for a's flush
    h.trips[0].release();
    await a;
    await h.tick();
    expect(h.trips.map((t) => t.items)).toEqual([["a"], ["b", "c", "d"]]);
    h.trips[1].release();
    expect(await Promise.all(rest)).toEqual(["ok:b", "ok:c", "ok:d"]);
    expect(h.gc.stats).toMatchObject({ batches: 2, items: 4, largest: 3 });
    expect(h.kept).toHaveLength(2); // one leader per round trip
  });

  it("never puts more statements in one round trip than the cap", async () => {
    const h = harness({ maxStatements: 6 });
    const first = h.submit("first", 1);
    await h.tick();
    const others = ["b", "c", "d", "e", "f"].map((n) => h.submit(n, 3)); // 15 statements: three trips of at most 6
    await h.tick();
    h.trips[0].release();
    for (let i = 1; i <= 3; i++) {
      await h.tick();
      await h.tick();
      expect(h.trips[i]).toBeDefined();
      h.trips[i].release();
    }
    await Promise.all([first, ...others]);
    expect(h.trips.slice(1).map((t) => t.items)).toEqual([["b", "c"], ["d", "e"], ["f"]]);
  });

  it("runs an item larger than the cap on its own", async () => {
    const h = harness({ maxStatements: 6 });
    await expect(h.submit("huge", 7)).resolves.toBe("alone:huge");
    expect(h.trips).toHaveLength(0);
  });

  it("gives each member its own outcome when one member's statement fails the shared batch", async () => {
    const h = harness();
    const a = h.submit("a");
    await h.tick();
    const b = h.submit("b");
    const bad = h.submit("bad", 2, true);
    const c = h.submit("c");
    h.trips[0].release();
    await a;
    await h.tick();
    h.trips[1].fail(new Error("D1_ERROR: UNIQUE constraint failed: SQLITE_CONSTRAINT"));
    await expect(b).resolves.toBe("alone:b");
    await expect(bad).rejects.toThrow("SQLITE_CONSTRAINT: bad");
    await expect(c).resolves.toBe("alone:c");
    expect(h.alone).toEqual(["b", "bad", "c"]);
    expect(h.gc.stats.retriedAlone).toBe(3);
  });

  it("does not retry a batch that may have committed (connection lost): every member sees the error", async () => {
    const h = harness();
    const first = h.submit("first");
    await h.tick();
    const a = h.submit("a");
    const b = h.submit("b");
    h.trips[0].release();
    await first;
    await h.tick();
    expect(h.trips[1].items).toEqual(["a", "b"]);
    h.trips[1].fail(new Error("D1_ERROR: Network connection lost."));
    await expect(a).rejects.toThrow("Network connection lost");
    await expect(b).rejects.toThrow("Network connection lost");
    expect(h.alone).toEqual([]);
  });

  it("keeps the statements a leader runs within twice the cap, retries included", async () => {
    const h = harness({ maxStatements: 6 });
    const a = h.submit("a", 1);
    await h.tick();
    const members = ["b", "c", "d"].map((n) => h.submit(n, 2, n === "c"));
    h.trips[0].release();
    await a;
    await h.tick();
    const statements = h.trips[1].items.length * 2;
    h.trips[1].fail(new Error("SQLITE_CONSTRAINT"));
    await Promise.allSettled(members);
    const retried = h.alone.length * 2;
    expect(statements).toBeLessThanOrEqual(6);
    expect(statements + retried).toBeLessThanOrEqual(2 * 6);
  });

  it("lets each member wait its own time: one that gives up is told so while the batch still commits for the others", async () => {
    const h = harness({ memberWaitMs: 5_000 });
    const first = h.submit("x");
    await h.tick();
    const patient = h.submit("a");
    const hasty = h.gc.submit({ name: "b", size: 2 }, 2, (w) => h.kept.push(w), 20);
    await expect(hasty).rejects.toThrow("stalled");
    h.trips[0].release();
    await first;
    await h.tick();
    h.trips[1].release();
    await expect(patient).resolves.toBe("ok:a");
    expect(h.trips.map((t) => t.items)).toEqual([["x"], ["a", "b"]]);
  });

  it("answers a member with the stalled error when its batch never comes back", async () => {
    const h = harness({ memberWaitMs: 30 });
    const p = h.submit("a");
    await expect(p).rejects.toThrow("stalled");
  });

  it("flushes anyway when the previous round trip hangs", async () => {
    const h = harness({ previousFlushWaitMs: 20, memberWaitMs: 5_000 });
    void h.submit("stuck").catch(() => {});
    await h.tick();
    const b = h.submit("b");
    await new Promise((r) => setTimeout(r, 40));
    expect(h.trips.map((t) => t.items)).toEqual([["stuck"], ["b"]]);
    h.trips[1].release();
    await expect(b).resolves.toBe("ok:b");
  });
});
