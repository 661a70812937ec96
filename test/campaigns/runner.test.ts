import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { CampaignRunner } from "../../durable-objects/campaign-runner";
import { runId } from "../../functions/campaigns/ids";
import { adminToken, registerProbe } from "../helpers";
import { createJob, drain, eventsOf, fakeGateway, fireCron, installGateway, runner, runsOf, settle, tasksOf, waitFor } from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

let cc = 0;
const fresh = () => `R${String.fromCharCode(65 + cc++)}`;

async function probesIn(country: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await registerProbe({ probe_cc: country, token: `${country}-${i}-` }));
  return out;
}

const nextRunAt = async (jobId: string) =>
  Date.parse((await env.DB.prepare("SELECT next_run_at FROM jobs WHERE id = ?").bind(jobId).first<{ next_run_at: string }>())!.next_run_at);

/** One task per probe, one task.created and one push per task: nothing lost, nothing twice. */
async function expectEachOnce(jobId: string, country: string, probes: { clientId: string }[]) {
  const tasks = await tasksOf(jobId);
  expect(tasks.map((t: any) => t.probe_id).sort()).toEqual(probes.map((p) => p.clientId).sort());
  const created = (await eventsOf({ jobId })).filter((e) => e.type === "task.created");
  expect(created).toHaveLength(probes.length);
  await settle(probes.map((p) => p.clientId));
  await waitFor(async () => (await tasksOf(jobId)).every((t: any) => t.state === "notified"), "every task pushed");
  const gw = fakeGateway(country);
  expect(
    gw
      .calls(country)
      .map((c) => c.token)
      .sort(),
  ).toEqual(probes.map((_, i) => `${country}-${i}-`).sort());
}

describe("the runner's local record and its D1 commit (issue 17)", () => {
  it("a run committed to D1 but still 'firing' locally (evicted between the two) is paged by the reconciling alarm", async () => {
    const c = fresh();
    const ps = await probesIn(c, 5);
    fakeGateway(c);
    const jobId = await createJob(admin, { target: { countries: [c] } });
    const at = await nextRunAt(jobId);
    await runInDurableObject(runner(jobId), async (instance: CampaignRunner, state) => {
      await instance.fire(jobId, at);
      // What an eviction right after the commit leaves: the row as written before it, and the reconcile alarm.
      state.storage.sql.exec("UPDATE runs SET state = 'firing', cursor = '', handed = 0");
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    expect((await runsOf(jobId))[0]).toMatchObject({ id: runId(jobId, at) });
    await drain(runner(jobId));
    await waitFor(async () => (await runsOf(jobId))[0]?.state === "dispatched", "the run to be handed out");
    expect((await runsOf(jobId))[0].targets).toBe(5);
    await expectEachOnce(jobId, c, ps);
  });

  it("a fire that never reached D1 leaves a 'firing' row the alarm drops; the next cron fires the run once", async () => {
    const c = fresh();
    const ps = await probesIn(c, 4);
    fakeGateway(c);
    const jobId = await createJob(admin, { target: { countries: [c] } });
    const at = await nextRunAt(jobId);
    await runInDurableObject(runner(jobId), async (_i: CampaignRunner, state) => {
      // What an eviction right before the commit leaves.
      state.storage.sql.exec("INSERT INTO runs (run_id, job_id, run_at, state, shards) VALUES (?, ?, ?, 'firing', 8)", runId(jobId, at), jobId, at);
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    expect(await runDurableObjectAlarm(runner(jobId))).toBe(true);
    expect(await runner(jobId).runs()).toEqual([]);
    expect(await runsOf(jobId)).toEqual([]);
    expect(await tasksOf(jobId)).toEqual([]);
    await fireCron();
    await drain(runner(jobId));
    await waitFor(async () => (await runsOf(jobId))[0]?.state === "dispatched", "the run to be handed out");
    expect(await runsOf(jobId)).toHaveLength(1);
    await expectEachOnce(jobId, c, ps);
  });

  it("a cancel that comes while a page is being handed out stays cancelled: the page never marks the run dispatched", async () => {
    const c = fresh();
    await probesIn(c, 2);
    fakeGateway(c);
    const jobId = await createJob(admin, { target: { countries: [c] } });
    const at = await nextRunAt(jobId);
    await runInDurableObject(runner(jobId), async (instance: CampaignRunner, state) => {
      await instance.fire(jobId, at);
      await state.storage.deleteAlarm();
      // The page (one page: 2 probes, pages of 3) awaits D1 and the hand-off; the cancel runs in between.
      const paging = instance.alarm();
      await instance.cancel();
      await paging;
    });
    expect((await runner(jobId).runs()).map((r) => r.state)).toEqual(["cancelled"]);
    await drain(runner(jobId));
    const [run] = await runsOf(jobId);
    expect(run.state).toBe("cancelled");
    const events = await eventsOf({ jobId });
    expect(events.filter((e) => e.type === "run.cancelled")).toHaveLength(1);
    expect(events.filter((e) => e.type === "run.dispatched")).toHaveLength(0);
    // A repeated cancel records nothing more.
    await runner(jobId).cancel();
    expect((await eventsOf({ jobId })).filter((e) => e.type === "run.cancelled")).toHaveLength(1);
  });

  it("a runner aborted in the middle of a page resumes from its last recorded page: every task and push exactly once", async () => {
    const c = fresh();
    const ps = await probesIn(c, 8); // three pages of 3
    fakeGateway(c);
    const jobId = await createJob(admin, { target: { countries: [c] } });
    const at = await nextRunAt(jobId);
    await runInDurableObject(runner(jobId), async (instance: CampaignRunner, state) => {
      await instance.fire(jobId, at);
      await state.storage.deleteAlarm();
      await instance.alarm(); // page 1 handed out and recorded
      expect((await instance.runs())[0]).toMatchObject({ state: "paging", handed: 3 });
      // Page 2: the object is aborted while its hand-off RPCs are in flight.
      const page2 = instance.alarm().catch(() => {});
      await new Promise((r) => setTimeout(r, 0));
      state.abort("evicted in the middle of a page");
      await page2;
    }).catch(() => {}); // the aborted object's call fails
    // A new instance: its alarm (set by the aborted page, or by the next cron) walks page 2 again, then page 3.
    await runInDurableObject(runner(jobId), async (_i, state) => {
      if ((await state.storage.getAlarm()) === null) await state.storage.setAlarm(Date.now());
    });
    await drain(runner(jobId));
    await waitFor(async () => (await runsOf(jobId))[0]?.state === "dispatched", "the run to be handed out");
    expect((await runsOf(jobId))[0].targets).toBe(8);
    expect((await runner(jobId).runs())[0]).toMatchObject({ state: "dispatched", handed: 8 });
    await expectEachOnce(jobId, c, ps);
  });
});
