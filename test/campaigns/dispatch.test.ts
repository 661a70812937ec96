import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import {
  createJob,
  drain,
  eventsOf,
  fakeGateway,
  fireAndDispatch,
  fireCron,
  gorushOk,
  installGateway,
  makeDue,
  runner,
  runsOf,
  scheduler,
  settle,
  tasksOf,
  waitFor,
} from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

/** A country code (and token prefix) unique to one test, so tests in this file never see each other's probes. */
let cc = 0;
const fresh = () => `Q${String.fromCharCode(65 + cc++)}`;

async function probesIn(country: string, n: number, over: Record<string, unknown> = {}) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await registerProbe({ probe_cc: country, token: `${country}-${i}`, ...over }));
  return out;
}

describe("cron → campaign runner → probe scheduler → gateway", () => {
  it("pushes exactly the targeted probes, once each, with the task id and a pingback URL", async () => {
    const [c1, c2] = [fresh(), fresh()];
    const a = await registerProbe({ probe_cc: c1, token: `${c1}-a` });
    const b = await registerProbe({ probe_cc: c1, platform: "ios", token: `${c1}-b` });
    const other = await registerProbe({ probe_cc: c2, token: `${c2}-c` });
    const gw = fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    await settle([a.clientId, b.clientId, other.clientId]);

    expect(
      gw
        .calls(c1)
        .map((c) => c.token)
        .sort(),
    ).toEqual([`${c1}-a`, `${c1}-b`]);
    expect(gw.calls(c2)).toHaveLength(0);
    const ts = await tasksOf(jobId);
    expect(ts.map((t: any) => t.probe_id).sort()).toEqual([a.clientId, b.clientId].sort());
    expect(ts.every((t: any) => t.state === "notified")).toBe(true);
    const n = gw.calls(`${c1}-b`)[0].body.notifications[0];
    const tb = ts.find((t: any) => t.probe_id === b.clientId);
    // The one payload shape (docs/push.md), as a silent background push on iOS.
    expect(n).toMatchObject({ platform: 1, content_available: true, push_type: "background", priority: "normal", data: { type: "run_task", task_id: tb.id } });
    expect(n).not.toHaveProperty("message");
    expect(n.data.pingback_url).toMatch(/^https:\/\/probes\.example\.org\/api\/v1\/pingback\/[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(gw.calls(`${c1}-a`)[0].body.notifications[0].platform).toBe(2);
    const types = (await eventsOf({ jobId })).map((e) => e.type);
    expect(types.filter((t) => t === "push.sent")).toHaveLength(2);
    expect(types).toEqual(expect.arrayContaining(["job.created", "run.started", "task.created", "run.dispatched", "task.notified", "job.done"]));
  });

  it("a duplicated cron fire and retried alarms create no second task and no second push", async () => {
    const c1 = fresh();
    const ps = await probesIn(c1, 4);
    const gw = fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    const now = Date.now();
    await Promise.all([fireCron(now), fireCron(now), fireCron(now + 1000)]);
    await fireAndDispatch(jobId);
    await settle(ps.map((p) => p.clientId));
    // The same occurrence handed out again, as a retried runner alarm would.
    const [occ] = await scheduler(ps[0].clientId).list(ps[0].clientId);
    const again = await scheduler(ps[0].clientId).enqueue({
      id: occ.id,
      jobId,
      runId: occ.run_id,
      probeId: ps[0].clientId,
      kind: "task",
      testName: "web_connectivity",
      arguments: "{}",
      alertMessage: null,
      alertExtra: null,
      sendAtMs: Date.now(),
      expireAtMs: Date.now() + 60_000,
    });
    expect(again).toEqual({ created: false, taskId: occ.task_id });
    // Alarms run again (a platform retry) with nothing new due.
    for (const p of ps) await runDurableObjectAlarm(scheduler(p.clientId));
    await fireCron(Date.now());
    await settle(ps.map((p) => p.clientId));
    expect(gw.calls(c1)).toHaveLength(4);
    expect(await tasksOf(jobId)).toHaveLength(4);
    const runs = await runsOf(jobId);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: "dispatched", targets: 4, run_no: 1 });
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(job.body).toMatchObject({ state: "done", times_run: 1, next_run_at: null });
    expect(job.body.task_counts.notified).toBe(4);
    expect((await eventsOf({ jobId })).filter((e) => e.type === "run.started")).toHaveLength(1);
  });

  it("walks a run in bounded pages (3 here): 7 probes are handed out over 3 runner invocations, none lost or doubled", async () => {
    const c1 = fresh();
    const ids = (await probesIn(c1, 7)).map((p) => p.clientId);
    fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    const ts = await tasksOf(jobId);
    expect(ts.map((t: any) => t.probe_id).sort()).toEqual([...ids].sort());
    expect((await runsOf(jobId))[0].targets).toBe(7);
  });

  it("targets by platform, ASN, network type, software and supported tests; never a test the probe lacks", async () => {
    const c1 = fresh();
    const base = { probe_cc: c1, probe_asn: "AS3269", platform: "android", network_type: "wifi", supported_tests: ["web_connectivity", "ndt"] };
    const match = await registerProbe({ ...base, token: `${c1}-m` });
    await registerProbe({ ...base, platform: "ios", token: `${c1}-1` });
    await registerProbe({ ...base, probe_asn: "AS1", token: `${c1}-2` });
    await registerProbe({ ...base, network_type: "mobile", token: `${c1}-3` });
    await registerProbe({ ...base, supported_tests: ["web_connectivity"], token: `${c1}-4` });
    await registerProbe({ ...base, supported_tests: ["ndt"], token: `${c1}-5` });
    await registerProbe({ ...base, software_name: "other", token: `${c1}-6` });
    const target = {
      countries: [c1],
      platforms: ["android"],
      asns: ["AS3269"],
      network_types: ["wifi"],
      software_names: ["ooniprobe-android"],
      supported_tests: ["ndt"],
    };
    const dry = await call("POST", "/api/v1/admin/job/dry-run", {
      json: { schedule: "R1//P", comment: "x", task: { test_name: "web_connectivity" }, target },
      token: admin,
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      targets: 1,
      with_push_token: 1,
      projected_pushes_per_run: 1,
      by_country: [{ key: c1, count: 1 }],
      by_asn: [{ key: "AS3269", count: 1 }],
    });
    fakeGateway(c1);
    const jobId = await createJob(admin, { target });
    await fireAndDispatch(jobId);
    expect((await tasksOf(jobId)).map((t: any) => t.probe_id)).toEqual([match.clientId]);
  });

  it("a probe without a push token still gets its task to pull, and no push is attempted", async () => {
    const c1 = fresh();
    const p = await registerProbe({ probe_cc: c1, token: "" });
    fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    await settle([p.clientId]);
    expect((await tasksOf(jobId))[0].state).toBe("ready");
    expect((await eventsOf({ probeId: p.clientId })).map((e) => e.type)).toContain("push.skipped");
    const pulled = await call("GET", "/api/v1/tasks", { token: p.token });
    expect(pulled.body.tasks.map((t: any) => t.test_name)).toEqual(["web_connectivity"]);
  });

  it("an alert campaign pushes its message (no task) to probes with a live token", async () => {
    const c1 = fresh();
    const [p] = await probesIn(c1, 1);
    await registerProbe({ probe_cc: c1, token: "" });
    const gw = fakeGateway(c1);
    const jobId = await createJob(admin, {
      task: null,
      alert: { message: "Censorship event in progress", extra: { href: "https://ooni.org/x" } },
      target: { countries: [c1] },
    });
    await fireAndDispatch(jobId);
    await settle([p.clientId]);
    expect(await tasksOf(jobId)).toHaveLength(0);
    const [n] = gw.calls(c1).map((c) => c.body.notifications[0]);
    expect(n).toMatchObject({ message: "Censorship event in progress", data: { type: "alert", href: "https://ooni.org/x" } });
    expect(n).not.toHaveProperty("content_available");
    const pb = await call("GET", new URL(n.data.pingback_url).pathname);
    expect(pb.body).toEqual({ type: "alert", job_id: jobId, message: "Censorship event in progress", extra: { href: "https://ooni.org/x" } });
    expect((await runsOf(jobId))[0].targets).toBe(1);
  });
});

describe("gateway failures", () => {
  it("429 with Retry-After is retried no earlier than asked, then delivered", async () => {
    const c1 = fresh();
    const [p] = await probesIn(c1, 1);
    const gw = fakeGateway(c1, (_c, n) => (n === 1 ? new Response("slow down", { status: 429, headers: { "Retry-After": "120" } }) : gorushOk()));
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    const before = Date.now();
    await fireAndDispatch(jobId);
    await waitFor(async () => gw.calls(c1).length === 1 && (await scheduler(p.clientId).list(p.clientId))[0]?.state === "pending", "the first attempt");
    const [occ] = await scheduler(p.clientId).list(p.clientId);
    expect(occ.next_at).toBeGreaterThanOrEqual(before + 120_000);
    expect((await tasksOf(jobId))[0].state).toBe("ready");
    // Its time comes (the test moves it instead of waiting two minutes).
    await makeDue(p.clientId);
    expect((await tasksOf(jobId))[0].state).toBe("notified");
    expect(gw.calls(c1)).toHaveLength(2);
    const evs = await eventsOf({ probeId: p.clientId });
    expect(evs.map((e) => e.type)).toEqual(expect.arrayContaining(["push.retry", "push.sent", "task.notified"]));
    expect(evs.find((e) => e.type === "push.retry")!.data).toMatchObject({ provider: "gorush", status: 429, attempt: 1 });
  });

  it("5xx and network errors back off exponentially, then give up after PUSH_MAX_ATTEMPTS: the task fails", async () => {
    const c1 = fresh();
    const [p] = await probesIn(c1, 1);
    const gw = fakeGateway(c1, (_c, n) => {
      if (n % 2) return new Response("oops", { status: 503 });
      throw new TypeError("network connection lost");
    });
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    const gaps: number[] = [];
    const attempted = async (attempt: number) => gw.calls(c1).length >= attempt && (await scheduler(p.clientId).list(p.clientId))[0].state !== "sending";
    // Attempt 1 is the alarm the hand-out armed for now, which the runtime runs on its own (helpers.ts waitFor);
    // attempts 2 to 6 are driven by makeDue, so each has happened when it returns.
    await waitFor(() => attempted(1), "attempt 1");
    for (let attempt = 1; attempt <= 6; attempt++) {
      expect(await attempted(attempt)).toBe(true);
      const [occ] = await scheduler(p.clientId).list(p.clientId);
      if (occ.state === "closed") break;
      gaps.push(occ.next_at! - Date.now());
      await makeDue(p.clientId);
    }
    expect((await tasksOf(jobId))[0].state).toBe("failed");
    expect(gw.calls(c1)).toHaveLength(6);
    // Backoff ceilings 2 s, 4 s, 8 s, 16 s, 32 s, with jitter in [50%, 100%].
    expect(gaps).toHaveLength(5);
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(2000 * 2 ** i * 0.5 - 500);
      expect(g).toBeLessThanOrEqual(2000 * 2 ** i + 50);
    });
    expect((await tasksOf(jobId))[0].error).toMatch(/gave up after 6 attempts/);
  });

  it.each(["Unregistered", "BadDeviceToken", "NotRegistered", "InvalidRegistration"])(
    "gorush's %s marks the probe's token expired, fails the task, and later runs skip the probe",
    async (error) => {
      const c1 = fresh();
      const [p] = await probesIn(c1, 1);
      const gw = fakeGateway(c1, (c) => gorushOk([{ type: "failed-push", platform: "android", token: c.token, message: "push failed", error }]));
      const jobId = await createJob(admin, { schedule: "R2//PT1H", target: { countries: [c1] } });
      await fireAndDispatch(jobId);
      await waitFor(async () => (await tasksOf(jobId))[0]?.state === "failed", "the task to fail");
      expect(gw.calls(c1)).toHaveLength(1);
      const row = await env.DB.prepare("SELECT push_token_state FROM probes WHERE id = ?").bind(p.clientId).first<any>();
      expect(row.push_token_state).toBe("expired");
      const types = (await eventsOf({ probeId: p.clientId })).map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(["push.failed", "probe.token_expired", "task.failed"]));
      // The second run: a task to pull, but no push to the dead token.
      await fireAndDispatch(jobId, Date.now() + 3_600_000 + 1000);
      await settle([p.clientId]);
      expect(await tasksOf(jobId)).toHaveLength(2);
      expect(gw.calls(c1)).toHaveLength(1);
    },
  );

  it("a gateway 400 (bad payload) fails the task without retrying or touching the token", async () => {
    const c1 = fresh();
    const [p] = await probesIn(c1, 1);
    const gw = fakeGateway(c1, () => Response.json({ message: "Missing notifications field." }, { status: 400 }));
    const jobId = await createJob(admin, { target: { countries: [c1] } });
    await fireAndDispatch(jobId);
    await waitFor(async () => (await tasksOf(jobId))[0]?.state === "failed", "the task to fail");
    expect(gw.calls(c1)).toHaveLength(1);
    const row = await env.DB.prepare("SELECT push_token_state FROM probes WHERE id = ?").bind(p.clientId).first<any>();
    expect(row.push_token_state).toBe("valid");
  });
});

describe("campaign life cycle", () => {
  it("no run fires after deletion, and pushes already scheduled are dropped", async () => {
    const c1 = fresh();
    const [p] = await probesIn(c1, 1);
    const gw = fakeGateway(c1);
    // A one-hour delay: the occurrence waits in the probe's scheduler when the campaign is deleted.
    const jobId = await createJob(admin, { schedule: "R//PT1M", target: { countries: [c1] }, delay: 3600 });
    await fireAndDispatch(jobId);
    expect(await scheduler(p.clientId).list(p.clientId)).toHaveLength(1);
    const del = await call("DELETE", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(del).toMatchObject({ status: 200, body: { status: "deleted" } });
    await fireCron(Date.now() + 120_000);
    await makeDue(p.clientId);
    expect((await scheduler(p.clientId).list(p.clientId))[0].state).toBe("closed");
    expect(gw.calls(c1)).toHaveLength(0);
    expect((await tasksOf(jobId)).map((t: any) => t.state)).toEqual(["expired"]);
    expect(await runsOf(jobId)).toHaveLength(1);
  });

  it("pause stops the hand-out of a run in progress; resume continues it", async () => {
    const c1 = fresh();
    await probesIn(c1, 5);
    fakeGateway(c1);
    const jobId = await createJob(admin, { schedule: "R//PT1H", target: { countries: [c1] } });
    // Paused between the cron firing the run and the runner's first page.
    const r = await runner(jobId).fire(jobId, Date.now());
    expect(r.fired).toBeTruthy();
    expect(await call("POST", `/api/v1/admin/job/${jobId}/pause`, { token: admin })).toMatchObject({ status: 200, body: { status: "paused" } });
    await drain(runner(jobId));
    expect((await runsOf(jobId))[0].state).toBe("dispatching");
    expect((await tasksOf(jobId)).length).toBeLessThan(5);
    expect(await call("POST", `/api/v1/admin/job/${jobId}/resume`, { token: admin })).toMatchObject({ status: 200 });
    await drain(runner(jobId));
    await waitFor(async () => (await runsOf(jobId))[0].state === "dispatched", "the run to finish");
    expect(await tasksOf(jobId)).toHaveLength(5);
  });

  it("a run missed while the service was down fires once within the starting deadline; the rest are recorded, not fired", async () => {
    const c1 = fresh();
    await probesIn(c1, 1);
    fakeGateway(c1);
    const anchor = Date.parse("2026-01-01T00:00:00Z");
    const jobId = await createJob(admin, { schedule: "R/2026-01-01T00:00:00Z/PT1H", target: { countries: [c1] }, starting_deadline_s: 900 });
    const now = Date.now();
    const slot = anchor + Math.floor((now - anchor) / 3_600_000) * 3_600_000;
    // The service was down for the five runs before `slot`.
    await env.DB.prepare("UPDATE jobs SET next_run_at = ? WHERE id = ?")
      .bind(new Date(slot - 5 * 3_600_000).toISOString(), jobId)
      .run();
    await fireAndDispatch(jobId, slot + 60_000);
    const runs = await runsOf(jobId);
    expect(runs.map((r: any) => [r.state, r.missed_count])).toEqual([
      ["missed", 5],
      ["dispatched", 0],
    ]);
    expect(runs[1].scheduled_at).toBe(new Date(slot).toISOString());
    expect((await eventsOf({ jobId })).find((e) => e.type === "run.missed")!.data).toMatchObject({ count: 5, starting_deadline_s: 900 });
    // The next run seen only 20 minutes late: past its deadline, skipped and recorded.
    await fireAndDispatch(jobId, slot + 3_600_000 + 20 * 60_000);
    expect((await runsOf(jobId)).map((r: any) => r.state)).toEqual(["missed", "dispatched", "missed"]);
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(job.body.times_run).toBe(1);
    expect(job.body.next_run_at).toBe(new Date(slot + 2 * 3_600_000).toISOString());
  });

  it("a rollout rate spreads a run: probe i is pushed i/rate minutes after the run (2 per minute here)", async () => {
    const c1 = fresh();
    const ps = await probesIn(c1, 2);
    fakeGateway(c1);
    const jobId = await createJob(admin, { target: { countries: [c1] }, rollout_per_minute: 2 });
    await fireAndDispatch(jobId);
    const sends = [];
    for (const p of ps) sends.push((await scheduler(p.clientId).list(p.clientId))[0].send_at);
    const t0 = Date.parse((await runsOf(jobId))[0].scheduled_at);
    expect(sends.map((s) => s - t0).sort((a, b) => a - b)).toEqual([0, 30_000]);
  });
});
