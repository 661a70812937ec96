import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { createJob, fakeGateway, fireAndDispatch, installGateway, makeDue, scheduler, settle, tasksOf, waitFor } from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

let cc = 0;
const fresh = () => `P${String.fromCharCode(65 + cc++)}`;

async function probesIn(country: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await registerProbe({ probe_cc: country, token: `${country}-${i}` }));
  return out;
}

const jobState = async (id: string) => (await env.DB.prepare("SELECT state FROM jobs WHERE id = ?").bind(id).first<{ state: string }>())!.state;
const states = async (probeId: string) => (await scheduler(probeId).list(probeId)).map((o) => o.state);

describe("pause holds every push not yet sent; resume sends them; delete expires them", () => {
  it("a one-run campaign spread over its delay is done at its fire, still pauses, holds its pushes, and resume sends each once", async () => {
    const c = fresh();
    const ps = await probesIn(c, 3);
    const gw = fakeGateway(c);
    const jobId = await createJob(admin, { schedule: "R1//P", target: { countries: [c] }, delay: 3600 });
    await fireAndDispatch(jobId);
    expect(await jobState(jobId)).toBe("done");
    expect(await call("POST", `/api/v1/admin/job/${jobId}/pause`, { token: admin })).toMatchObject({ status: 200, body: { status: "paused" } });
    // Their spread send times come: each probe's scheduler holds the push instead of sending it.
    for (const p of ps) await makeDue(p.clientId);
    for (const p of ps) {
      const [o] = await scheduler(p.clientId).list(p.clientId);
      expect(o.state).toBe("pending");
      expect(o.next_at! - Date.now()).toBeGreaterThan(30_000);
    }
    expect(gw.calls(c)).toHaveLength(0);
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["ready", "ready", "ready"]);
    // A platform retry of the alarm while paused changes nothing.
    for (const p of ps) await runDurableObjectAlarm(scheduler(p.clientId));
    expect(gw.calls(c)).toHaveLength(0);

    expect(await call("POST", `/api/v1/admin/job/${jobId}/resume`, { token: admin })).toMatchObject({ status: 200, body: { status: "done" } });
    for (const p of ps) await makeDue(p.clientId);
    await settle(ps.map((p) => p.clientId));
    await waitFor(async () => (await tasksOf(jobId)).every((t: any) => t.state === "notified"), "the held pushes to be sent");
    expect(
      gw
        .calls(c)
        .map((x) => x.token)
        .sort(),
    ).toEqual(ps.map((_, i) => `${c}-${i}`).sort());
    // Sent means sent: more alarms push nothing again.
    for (const p of ps) await makeDue(p.clientId);
    expect(gw.calls(c)).toHaveLength(3);
  });

  it("a retry waiting when the campaign is paused is held too, and sent after resume", async () => {
    const c = fresh();
    const [p] = await probesIn(c, 1);
    const gw = fakeGateway(c, (_call, n) => (n === 1 ? new Response("busy", { status: 503 }) : Response.json({ counts: 1, logs: [], success: "ok" })));
    const jobId = await createJob(admin, { schedule: "R1//P", target: { countries: [c] } });
    await fireAndDispatch(jobId);
    await waitFor(async () => gw.calls(c).length >= 1 && (await states(p.clientId))[0] === "pending", "the first attempt to fail");
    expect(await call("POST", `/api/v1/admin/job/${jobId}/pause`, { token: admin })).toMatchObject({ status: 200, body: { status: "paused" } });
    await makeDue(p.clientId);
    expect(gw.calls(c)).toHaveLength(1);
    expect(await call("POST", `/api/v1/admin/job/${jobId}/resume`, { token: admin })).toMatchObject({ status: 200 });
    await makeDue(p.clientId);
    await waitFor(async () => (await tasksOf(jobId))[0].state === "notified", "the retry to be sent");
    expect(gw.calls(c)).toHaveLength(2);
  });

  it("deleting a paused campaign expires its held pushes: none is ever sent", async () => {
    const c = fresh();
    const ps = await probesIn(c, 2);
    const gw = fakeGateway(c);
    const jobId = await createJob(admin, { schedule: "R1//P", target: { countries: [c] }, delay: 3600 });
    await fireAndDispatch(jobId);
    expect((await call("POST", `/api/v1/admin/job/${jobId}/pause`, { token: admin })).status).toBe(200);
    for (const p of ps) await makeDue(p.clientId);
    expect(await call("DELETE", `/api/v1/admin/job/${jobId}`, { token: admin })).toMatchObject({ status: 200, body: { status: "deleted" } });
    for (const p of ps) await makeDue(p.clientId);
    for (const p of ps) expect(await states(p.clientId)).toEqual(["closed"]);
    expect(gw.calls(c)).toHaveLength(0);
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["expired", "expired"]);
  });

  it("a done campaign whose pushes have all been sent cannot be paused (409 illegal_transition)", async () => {
    const c = fresh();
    const ps = await probesIn(c, 1);
    fakeGateway(c);
    const jobId = await createJob(admin, { schedule: "R1//P", target: { countries: [c] } });
    await fireAndDispatch(jobId);
    await settle(ps.map((p) => p.clientId));
    await waitFor(async () => (await tasksOf(jobId))[0]?.state === "notified", "the push");
    expect(await call("POST", `/api/v1/admin/job/${jobId}/pause`, { token: admin })).toMatchObject({ status: 409, body: { code: "illegal_transition" } });
  });
});
