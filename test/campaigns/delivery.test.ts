import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { createJob, eventsOf, fakeGateway, fireAndDispatch, gorushOk, installGateway, runner, scheduler, settle, tasksOf, waitFor } from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

let cc = 0;
const fresh = () => `D${String.fromCharCode(65 + cc++)}`;

describe("delivery behaviour under the providers' limits", () => {
  it("an iOS device gets at most 3 pushes an hour: the 4th campaign's task is deferred to the probe's pull, and recorded", async () => {
    const c1 = fresh();
    const p = await registerProbe({ probe_cc: c1, platform: "ios", token: `${c1}-ios` });
    const gw = fakeGateway(c1);
    const jobs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const jobId = await createJob(admin, { target: { countries: [c1] }, comment: `burst ${i}` });
      jobs.push(jobId);
      await fireAndDispatch(jobId);
      await settle([p.clientId]);
    }
    expect(gw.calls(c1)).toHaveLength(3);
    const last = jobs[3];
    const deferred = (await eventsOf({ jobId: last })).find((e) => e.type === "push.deferred");
    expect(deferred?.data).toMatchObject({ reason: "push budget", sent: 3, limit: 3 });
    // Not pushed, but not lost: the task is there for the probe to pull.
    expect((await tasksOf(last))[0].state).toBe("ready");
    const pulled = await call("GET", "/api/v1/tasks", { token: p.token });
    expect(pulled.body.tasks.map((t: any) => t.id)).toContain((await tasksOf(last))[0].id);
    const detail = await call("GET", `/api/v1/admin/job/${last}`, { token: admin });
    expect(detail.body.delivery).toMatchObject({ sent: 0, deferred: 1 });
    const first = await call("GET", `/api/v1/admin/job/${jobs[0]}`, { token: admin });
    expect(first.body.delivery).toMatchObject({ sent: 1, deferred: 0, failed: 0 });
  });

  it("a 429 halves the campaign's rollout rate, records it, and the retry waits for a slot at the new rate", async () => {
    const c1 = fresh();
    const [a, b] = [await registerProbe({ probe_cc: c1, token: `${c1}-0` }), await registerProbe({ probe_cc: c1, token: `${c1}-1` })];
    let n = 0;
    fakeGateway(c1, () => (++n === 1 ? new Response("slow down", { status: 429, headers: { "Retry-After": "1" } }) : gorushOk()));
    const jobId = await createJob(admin, { target: { countries: [c1] }, rollout_per_minute: 600 });
    await fireAndDispatch(jobId);
    await waitFor(async () => (await eventsOf({ jobId })).some((e) => e.type === "run.throttled"), "the throttle to be recorded");
    const throttled = (await eventsOf({ jobId })).find((e) => e.type === "run.throttled")!;
    expect(throttled.data).toMatchObject({ rate_per_minute: 300, was: 600, retry_after_ms: 1000 });
    const [run] = await runner(jobId).runs();
    expect(JSON.parse(run.pace!).current).toBe(300);
    // Nothing dropped: both probes end up notified.
    await waitFor(
      async () => {
        await settle([a.clientId, b.clientId]);
        return (await tasksOf(jobId)).every((t: any) => t.state === "notified");
      },
      "both tasks delivered",
      15_000,
    );
    const retried = (await Promise.all([a, b].map((p) => scheduler(p.clientId).list(p.clientId)))).flat().find((o) => o.attempts === 2);
    expect(retried).toBeDefined();
  });

  it("push.sent records the provider's message id in the delivery log", async () => {
    const c1 = fresh();
    const p = await registerProbe({ probe_cc: c1, token: `${c1}-0` });
    fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    await settle([p.clientId]);
    const sent = (await eventsOf({ jobId })).find((e) => e.type === "push.sent")!;
    expect(sent.data).toMatchObject({ provider: "gorush", status: 200, attempt: 1 });
  });
});
