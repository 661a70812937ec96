import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ProbeScheduler } from "../../durable-objects/probe-scheduler";
import { deliveriesRecorded, eventsInsert, probeInfos, ROWS_PER_STATEMENT, taskTransitions, tasksCreated } from "../../functions/campaigns/bulk";
import type { Occurrence, OccurrenceRow, Recorded } from "../../functions/campaigns/delivery";
import { pageOccurrences } from "../../functions/campaigns/fanout";
import { jobById } from "../../functions/campaigns/queries";
import { campaignSettings } from "../../functions/campaigns/settings";
import { chunks, fnv1a, groupByShard, schedulerNameOf, shardName, shardOf } from "../../functions/campaigns/shards";
import { runBatch, type Stmt } from "../../functions/campaigns/store";
import { dbFrom } from "../../functions/lib/db";
import { adminToken, registerProbe } from "../helpers";
import { createJob, eventsOf, fakeGateway, fireAndDispatch, installGateway, makeDue, occurrencesOf, scheduler, settle, tasksOf } from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

let cc = 0;
const fresh = () => `S${String.fromCharCode(65 + cc++)}`;
const SHARDS = () => campaignSettings(env).schedulerShards;
const db = () => dbFrom(env.DB);

/** Bound parameters of a drizzle statement as D1 would receive them. */
const params = (s: Stmt) => (s as unknown as { toSQL(): { params: unknown[] } }).toSQL().params.length;

/** n occurrences of a made-up run (no probes behind them: enough for the D1 statements). */
function fakeOccurrences(n: number, jobId = crypto.randomUUID()): Occurrence[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${jobId}:1:probe-${i}`,
    jobId,
    runId: `${jobId}:1`,
    probeId: `probe-${i}`,
    kind: "task" as const,
    testName: "web_connectivity",
    arguments: "{}",
    alertMessage: null,
    alertExtra: null,
    sendAtMs: 1_800_000_000_000,
    expireAtMs: 1_800_000_600_000,
  }));
}

describe("shards: where a probe's occurrences live", () => {
  it("a probe's shard is a stable hash of its id, within the count, and named with the count", () => {
    expect(fnv1a("")).toBe(0x811c9dc5);
    expect(fnv1a("a")).toBe(0xe40c292c); // FNV-1a's published test vector
    for (const id of ["a", "b", crypto.randomUUID()]) {
      expect(shardOf(id, 64)).toBe(shardOf(id, 64));
      expect(shardOf(id, 64)).toBeGreaterThanOrEqual(0);
      expect(shardOf(id, 64)).toBeLessThan(64);
    }
    expect(shardName(3, 64)).toBe("shard:64:3");
    // Another count names other objects: a run keeps the count it was fired with, so no occurrence moves.
    expect(schedulerNameOf("a", 64).startsWith("shard:64:")).toBe(true);
    expect(schedulerNameOf("a", 65).startsWith("shard:65:")).toBe(true);
    // 10,000 ids spread over 64 shards: none empty, none more than twice the mean.
    const counts = new Array(64).fill(0);
    for (let i = 0; i < 10_000; i++) counts[shardOf(crypto.randomUUID(), 64)]++;
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan((2 * 10_000) / 64);
  });

  it("a page is grouped into one hand-off per shard, each occurrence exactly once", () => {
    const os = fakeOccurrences(500);
    const groups = groupByShard(os, 8);
    expect(groups.length).toBeLessThanOrEqual(8);
    expect(groups.flatMap((g) => g.occurrences.map((o) => o.id)).sort()).toEqual(os.map((o) => o.id).sort());
    for (const g of groups) for (const o of g.occurrences) expect(g.name).toBe(schedulerNameOf(o.probeId, 8));
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(() => chunks([1], 0)).toThrow();
  });
});

describe("bulk D1 statements stay under D1's 100 bound parameters per statement", () => {
  it("a 500-occurrence page's tasks, outcomes, expiries and reads bind at most 100 parameters per statement, and run", async () => {
    const os = fakeOccurrences(500);
    const at = new Date().toISOString();
    const created = tasksCreated(
      db(),
      os.map((o, i) => ({ o, taskId: `${o.jobId}-t${i}` })),
      at,
    );
    const rows: OccurrenceRow[] = os.map((o, i) => ({
      id: o.id,
      job_id: o.jobId,
      run_id: o.runId,
      probe_id: o.probeId,
      kind: "task",
      task_id: `${o.jobId}-t${i}`,
      payload: "{}",
      send_at: o.sendAtMs,
      expire_at: o.expireAtMs,
      state: "recorded",
      attempts: 1,
      next_at: null,
      outcome: null,
      created_at: 0,
    }));
    const outcome = (i: number): Recorded =>
      i % 3 === 0
        ? { result: { outcome: "sent", provider: "gorush", status: 200 }, decision: { action: "sent" }, attempt: 1, token: `tok-${i}` }
        : i % 3 === 1
          ? {
              result: { outcome: "retry", provider: "gorush", status: 503, error: "busy" },
              decision: { action: "retry", atMs: 1 },
              attempt: 1,
              token: `tok-${i}`,
            }
          : {
              result: { outcome: "token-expired", provider: "gorush", status: 200, error: "Unregistered" },
              decision: { action: "token-expired" },
              attempt: 1,
              token: `tok-${i}`,
            };
    const recorded = deliveriesRecorded(
      db(),
      rows.map((row, i) => ({ row, r: outcome(i) })),
      at,
    );
    const expired = taskTransitions(
      db(),
      rows.map((r) => ({ taskId: r.task_id!, data: {} })),
      "expire",
      at,
      "system",
    );
    const events = eventsInsert(
      db(),
      os.map((o) => ({ at, type: "push.deferred", actor: "system", jobId: o.jobId, probeId: o.probeId, data: { reason: "push budget" } })),
    );
    const all = [...created, ...recorded, ...expired, ...events];
    for (const s of all) expect(params(s)).toBeLessThanOrEqual(100);
    // Lists are cut into statements of ROWS_PER_STATEMENT rows, so the statement count grows with the page, not per row.
    expect(created.length).toBe(2 * Math.ceil(500 / ROWS_PER_STATEMENT));
    // They run (local D1 does not enforce the bound; their results are checked in the tests below).
    await runBatch(db(), created);
    const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM tasks WHERE job_id = ?").bind(os[0].jobId).first<{ n: number }>();
    expect(n?.n).toBe(500);
    await runBatch(db(), [...recorded, ...events]);
    const info = await probeInfos(db(), rows);
    expect(info.size).toBe(0); // no such probes: each is "gone"
  });

  it("creating the same tasks twice writes them and their task.created events once", async () => {
    const os = fakeOccurrences(300);
    const at = new Date().toISOString();
    const items = os.map((o, i) => ({ o, taskId: `${o.jobId}-t${i}` }));
    await runBatch(db(), tasksCreated(db(), items, at));
    await runBatch(db(), tasksCreated(db(), [...items, ...items], at));
    const tasks = await env.DB.prepare("SELECT COUNT(*) AS n FROM tasks WHERE job_id = ?").bind(os[0].jobId).first<{ n: number }>();
    const created = (await eventsOf({ jobId: os[0].jobId })).filter((e) => e.type === "task.created");
    expect(tasks?.n).toBe(300);
    expect(created).toHaveLength(300);
    expect(created[0].data).toMatchObject({ run_id: os[0].runId, test_name: "web_connectivity" });
    // A transition applies once: the second notify finds no task in a state it may leave.
    const ids = items.map((x) => ({ taskId: x.taskId, data: { provider: "gorush" } }));
    await runBatch(db(), taskTransitions(db(), ids, "notify", at, "system"));
    await runBatch(db(), taskTransitions(db(), ids, "notify", at, "system"));
    const notified = (await eventsOf({ jobId: os[0].jobId })).filter((e) => e.type === "task.notified");
    expect(notified).toHaveLength(300);
    expect((await tasksOf(os[0].jobId)).every((t: any) => t.state === "notified" && t.notified_at === at)).toBe(true);
  });
});

let asn = 65_000;
/**
 * `n` probes of one country that share one scheduler shard: the first one registered, then others until enough share
 * its shard (bounded). Each has its own ASN, so a campaign can target exactly them; push tokens are `<country>-p<i>-`.
 */
async function probesSharingAShard(c: string, n: number, platform = "android") {
  const mk = async (i: number) => {
    const a = `AS${asn++}`;
    const p = await registerProbe({ probe_cc: c, probe_asn: a, platform, token: `${c}-p${i}-` });
    return { clientId: p.clientId, pushToken: `${c}-p${i}-`, asn: a, shard: schedulerNameOf(p.clientId, SHARDS()) };
  };
  const first = await mk(0);
  const out = [first];
  for (let i = 1; i < 200 && out.length < n; i++) {
    const p = await mk(i);
    if (p.shard === first.shard) out.push(p);
  }
  if (out.length < n) throw new Error("no shard collision");
  return out;
}

describe("a shard's hand-off and alarm", () => {
  it("a repeated hand-off and a repeated alarm create one task and push once per probe of the shard", async () => {
    const c = fresh();
    const ps = await probesSharingAShard(c, 3);
    const gw = fakeGateway(c);
    const jobId = await createJob(admin, { target: { countries: [c], asns: ps.map((p) => p.asn) }, delay: 3600 });
    const job = (await jobById(db(), jobId))!;
    const run = { run_id: `${jobId}:${Date.now()}`, run_at: Date.now(), pace: null };
    const { occurrences } = pageOccurrences(
      job,
      run,
      ps.map((p) => p.clientId),
      Date.now(),
    );
    const shard = scheduler(ps[0].clientId);
    const first = await shard.enqueueMany(occurrences);
    const again = await shard.enqueueMany([...occurrences].reverse());
    expect(first.map((r) => r.created)).toEqual([true, true, true]);
    expect(again.map((r) => r.created)).toEqual([false, false, false]);
    expect(again.map((r) => r.taskId).sort()).toEqual(first.map((r) => r.taskId).sort());
    expect(await tasksOf(jobId)).toHaveLength(3);
    expect((await eventsOf({ jobId })).filter((e) => e.type === "task.created")).toHaveLength(3);
    // Their spread send times come; the alarm runs, and runs again (a platform retry).
    for (const p of ps) await makeDue(p.clientId);
    await runDurableObjectAlarm(shard);
    await settle(ps.map((p) => p.clientId));
    expect(
      gw
        .calls(c)
        .map((x) => x.token)
        .sort(),
    ).toEqual(ps.map((p) => p.pushToken).sort());
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["notified", "notified", "notified"]);
    expect((await eventsOf({ jobId })).filter((e) => e.type === "push.sent")).toHaveLength(3);
    // A hand-off of the same page after the pushes still creates nothing and pushes nothing; the probes' times come
    // again (their task timeouts: unanswered, the tasks expire) and nothing is pushed again.
    await shard.enqueueMany(occurrences);
    for (const p of ps) await makeDue(p.clientId);
    expect(gw.calls(c)).toHaveLength(3);
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["expired", "expired", "expired"]);
    expect(await tasksOf(jobId)).toHaveLength(3);
  });

  it("push budgets are per device inside one shard: a device over its budget is deferred, its shard neighbour is pushed", async () => {
    const c = fresh();
    // a and b share one shard; iOS allows 3 pushes an hour.
    const [a, b] = await probesSharingAShard(c, 2, "ios");
    const gwA = fakeGateway(a.pushToken);
    const gwB = fakeGateway(b.pushToken);
    for (let i = 0; i < 3; i++) {
      const jobId = await createJob(admin, { target: { countries: [c], asns: [a.asn] }, comment: `budget ${i}` });
      await fireAndDispatch(jobId);
      await settle([a.clientId]);
    }
    expect(gwA.calls()).toHaveLength(3);
    const both = await createJob(admin, { target: { countries: [c], asns: [a.asn, b.asn] }, comment: "both" });
    await fireAndDispatch(both);
    await settle([a.clientId, b.clientId]);
    expect(gwA.calls()).toHaveLength(3);
    expect(gwB.calls()).toHaveLength(1);
    const events = await eventsOf({ jobId: both });
    expect(events.filter((e) => e.type === "push.deferred").map((e) => e.probe_id)).toEqual([a.clientId]);
    expect(events.filter((e) => e.type === "push.sent").map((e) => e.probe_id)).toEqual([b.clientId]);
    expect((await occurrencesOf(b.clientId)).every((o) => o.state !== "pending")).toBe(true);
  });
});

describe("a shard aborted mid-alarm", () => {
  it("resumes: a push whose answer was lost with the object is sent again, a push already recorded never is", async () => {
    const c = fresh();
    const [a, b] = await probesSharingAShard(c, 2);
    const shard = scheduler(a.clientId);
    let abortShard: (() => void) | null = null;
    await runInDurableObject(shard, (_o: ProbeScheduler, state) => {
      abortShard = () => state.abort("evicted in the middle of a push");
    });
    let aborted = false;
    const gw = fakeGateway(c, (call) => {
      // b's first push: the object goes away while the request is in flight, so its answer is lost.
      if (call.token === b.pushToken && !aborted) {
        aborted = true;
        abortShard?.();
        return new Response("gone", { status: 503 });
      }
      return Response.json({ counts: 1, logs: [], success: "ok" });
    });
    const jobId = await createJob(admin, { target: { countries: [c], asns: [a.asn, b.asn] }, delay: 3600 });
    await fireAndDispatch(jobId);
    await makeDue(a.clientId); // a is pushed and recorded
    expect(gw.calls(c).map((x) => x.token)).toEqual([a.pushToken]);
    await makeDue(b.clientId).catch(() => {}); // b's push: the object is aborted under it
    expect(aborted).toBe(true);
    // A new instance of the shard: b's row is still claimed ('sending'); its lease passes and b is pushed again.
    await makeDue(b.clientId);
    await settle([a.clientId, b.clientId]);
    expect(gw.calls(c).filter((x) => x.token === a.pushToken)).toHaveLength(1);
    expect(gw.calls(c).filter((x) => x.token === b.pushToken)).toHaveLength(2);
    const tasks = await tasksOf(jobId);
    expect(tasks).toHaveLength(2);
    expect(tasks.every((t: any) => t.state === "notified")).toBe(true);
    expect((await eventsOf({ jobId })).filter((e) => e.type === "task.created")).toHaveLength(2);
  });
});
