import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { pingbackUrl, signPingback, verifyPingback } from "../../functions/campaigns/pingback";
import { canTransition, TRANSITIONS, type TaskAction } from "../../functions/campaigns/task-states";
import { fixedClock, systemClock } from "../../functions/lib/clock";
import { settingsFrom } from "../../functions/lib/settings";
import { TASK_STATES } from "../../schema/campaigns";
import { adminToken, call, registerProbe } from "../helpers";
import { createJob, eventsOf, fakeGateway, fireAndDispatch, installGateway, settle, tasksOf, waitFor } from "./helpers";

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

let n = 0;
/** A probe with one notified task (pushed through the fake gateway); returns the task and its pingback URL. */
async function pushedTask() {
  const country = `T${String.fromCharCode(65 + n++)}`;
  const probe = await registerProbe({ probe_cc: country, token: `${country}-tok` });
  const gw = fakeGateway(country);
  const jobId = await createJob(admin, { target: { countries: [country] } });
  await fireAndDispatch(jobId);
  await settle([probe.clientId]);
  const [push] = await waitFor(async () => gw.calls(`${country}-tok`).length > 0 && gw.calls(`${country}-tok`), "the push");
  const [task] = await waitFor(
    async () => (await tasksOf(jobId)).filter((t: any) => t.state === "notified").length > 0 && tasksOf(jobId),
    "the task to be notified",
  );
  return { probe, jobId, task, pingback: push.body.notifications[0].data.pingback_url as string };
}

const path = (url: string) => new URL(url).pathname;

describe("task state machine (pure)", () => {
  const table: [TaskAction, string[]][] = [
    ["notify", ["ready"]],
    ["accept", ["ready", "notified"]],
    ["reject", ["ready", "notified", "accepted"]],
    ["done", ["accepted"]],
    ["expire", ["ready", "notified"]],
    ["fail", ["ready"]],
  ];
  it.each(table)("%s is legal only from %j", (action, from) => {
    for (const s of TASK_STATES) expect(canTransition(s, action)).toBe(from.includes(s));
  });
  it("done, rejected, expired and failed are terminal", () => {
    for (const s of ["done", "rejected", "expired", "failed"] as const) {
      expect(Object.keys(TRANSITIONS).some((a) => canTransition(s, a as TaskAction))).toBe(false);
    }
  });
});

describe("pingback", () => {
  it("GET on the pushed link returns the task and its answer links, built from PUBLIC_BASE_URL, and records the fetch", async () => {
    const { task, pingback } = await pushedTask();
    const r = await call("GET", path(pingback), { headers: { host: "evil.example" } });
    expect(r.status).toBe(200);
    const token = path(pingback).split("/").pop();
    expect(r.body).toEqual({
      type: "task",
      id: task.id,
      test_name: "web_connectivity",
      arguments: {},
      state: "notified",
      accept_url: `https://probes.example.org/api/v1/pingback/${token}/accept`,
      reject_url: `https://probes.example.org/api/v1/pingback/${token}/reject`,
      done_url: `https://probes.example.org/api/v1/pingback/${token}/done`,
    });
    const row = await env.DB.prepare("SELECT fetched_at FROM tasks WHERE id = ?").bind(task.id).first<any>();
    expect(row.fetched_at).toBeTruthy();
    expect((await eventsOf({ taskId: task.id })).map((e) => e.type)).toContain("task.fetched");
  });

  it("accept then done through the links, with a result reference; the story is in the event history", async () => {
    const { task, pingback, jobId } = await pushedTask();
    const page = (await call("GET", path(pingback))).body;
    expect(await call("POST", path(page.accept_url))).toMatchObject({ status: 200, body: { status: "accepted" } });
    const done = await call("POST", path(page.done_url), { json: { result: { measurement_id: "20260310T100000Z_webconnectivity_IT_1234_n1_abc" } } });
    expect(done).toMatchObject({ status: 200, body: { status: "done" } });
    const row = await env.DB.prepare("SELECT state, result, accepted_at, done_at FROM tasks WHERE id = ?").bind(task.id).first<any>();
    expect(row.state).toBe("done");
    expect(JSON.parse(row.result)).toEqual({ measurement_id: "20260310T100000Z_webconnectivity_IT_1234_n1_abc" });
    const story = await call("GET", `/api/v1/admin/events?job_id=${jobId}&order=asc`, { token: admin });
    // The whole story, in order (job.done is recorded when its only run fires).
    expect(story.body.events.map((e: any) => e.type)).toEqual([
      "job.created",
      "run.started",
      "job.done",
      "task.created",
      "run.dispatched",
      "push.sent",
      "task.notified",
      "task.fetched",
      "task.accepted",
      "task.done",
    ]);
  });

  it("the pushed payload and its pingback link carry no readable client_id: the token's subject is sealed, fresh per link", async () => {
    const country = `T${String.fromCharCode(65 + n++)}`;
    const probe = await registerProbe({ probe_cc: country, token: `${country}-tok` });
    const gw = fakeGateway(country);
    const jobId = await createJob(admin, { target: { countries: [country] } });
    await fireAndDispatch(jobId);
    await settle([probe.clientId]);
    const [push] = await waitFor(async () => gw.calls(`${country}-tok`).length > 0 && gw.calls(`${country}-tok`), "the push");
    const link = push.body.notifications[0].data.pingback_url as string;
    const id = probe.clientId;
    const forms = [id, id.toUpperCase(), id.replaceAll("-", ""), btoa(id), btoa(id).replace(/=+$/, "")];
    const wire = JSON.stringify(push.body);
    const [h, claims] = path(link).split("/").pop()!.split(".");
    const decoded = `${atob(h.replace(/-/g, "+").replace(/_/g, "/"))}${atob(claims.replace(/-/g, "+").replace(/_/g, "/"))}`;
    for (const f of forms) {
      expect(wire).not.toContain(f);
      expect(link).not.toContain(f);
      expect(decoded).not.toContain(f);
    }
    expect(JSON.parse(atob(claims.replace(/-/g, "+").replace(/_/g, "/"))).sub).not.toBe(id);
    // The server still knows whose link it is.
    const s = settingsFrom(env);
    const token = path(link).split("/").pop()!;
    expect((await verifyPingback(token, s.jwtSecret, systemClock)).probeId).toBe(id);
    // Two links for the same probe do not share a sealed value (no linkability through the subject).
    const again = await signPingback({ kind: "alert", jobId, probeId: id }, s.jwtSecret, systemClock, 60);
    const again2 = await signPingback({ kind: "alert", jobId, probeId: id }, s.jwtSecret, systemClock, 60);
    expect(again.split(".")[1]).not.toBe(again2.split(".")[1]);
  });

  it("a tampered link is 401, an expired one 410, a login token is not a pingback token", async () => {
    const { pingback, probe } = await pushedTask();
    const p = path(pingback);
    const [h, body, sig] = p.split("/").pop()!.split(".");
    const tampered = `/api/v1/pingback/${h}.${body}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
    expect(await call("GET", tampered)).toMatchObject({ status: 401, body: { code: "invalid_token" } });
    const s = settingsFrom(env);
    const old = await signPingback(
      { kind: "task", taskId: crypto.randomUUID(), probeId: probe.clientId },
      s.jwtSecret,
      fixedClock(new Date(Date.now() - 7200_000)),
      60,
    );
    expect(await call("GET", path(pingbackUrl(s.publicBaseUrl, old)))).toMatchObject({ status: 410, body: { code: "gone" } });
    expect(await call("GET", `/api/v1/pingback/${probe.token}`)).toMatchObject({ status: 401 });
    const forged = await new SignJWT({ k: "task", tid: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(probe.clientId)
      .setAudience("edge-orchestra/pingback")
      .setIssuer("edge-orchestra")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("not-the-secret-0123456789abcdef0123456789"));
    expect((await call("GET", `/api/v1/pingback/${forged}`)).status).toBe(401);
    expect((await call("GET", "/api/v1/pingback/not-a-jwt")).status).toBe(400);
    expect((await call("POST", `${p}/explode`)).status).toBe(400);
  });

  it("sign/verify round trip keeps the claims; the audience is distinct from login tokens", async () => {
    const s = settingsFrom(env);
    const clock = fixedClock("2026-03-10T10:00:00Z");
    const t = await signPingback({ kind: "alert", jobId: "j", probeId: "p" }, s.jwtSecret, clock, 60);
    expect(await verifyPingback(t, s.jwtSecret, clock)).toEqual({ kind: "alert", jobId: "j", probeId: "p" });
    await expect(verifyPingback(t, s.jwtSecret, fixedClock("2026-03-10T10:02:00Z"))).rejects.toMatchObject({ code: "gone" });
  });
});

describe("task answers with the probe's token", () => {
  it("pull: GET /tasks lists open tasks (since filter), GET /task/:id shows one", async () => {
    const { probe, task } = await pushedTask();
    const list = await call("GET", "/api/v1/tasks", { token: probe.token });
    expect(list.body.tasks.map((t: any) => t.id)).toEqual([task.id]);
    const later = await call("GET", `/api/v1/tasks?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { token: probe.token });
    expect(later.body.tasks).toEqual([]);
    expect((await call("GET", "/api/v1/tasks?since=yesterday", { token: probe.token })).status).toBe(400);
    const one = await call("GET", `/api/v1/task/${task.id}`, { token: probe.token });
    expect(one.body).toMatchObject({ id: task.id, test_name: "web_connectivity", state: "notified" });
  });

  it("reject from notified; then every further answer is 409", async () => {
    const { probe, task } = await pushedTask();
    expect(await call("POST", `/api/v1/task/${task.id}/reject`, { token: probe.token })).toMatchObject({ status: 200, body: { status: "rejected" } });
    for (const a of ["accept", "reject", "done"]) {
      expect(await call("POST", `/api/v1/task/${task.id}/${a}`, { token: probe.token })).toMatchObject({ status: 409, body: { code: "illegal_transition" } });
    }
    expect((await call("GET", "/api/v1/tasks", { token: probe.token })).body.tasks).toEqual([]);
  });

  it("done before accept is 409; accept, reject-after-accept is allowed; accepted twice is 409", async () => {
    const { probe, task } = await pushedTask();
    expect((await call("POST", `/api/v1/task/${task.id}/done`, { token: probe.token })).status).toBe(409);
    expect((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status).toBe(200);
    expect((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status).toBe(409);
    expect(await call("POST", `/api/v1/task/${task.id}/reject`, { token: probe.token })).toMatchObject({ status: 200, body: { status: "rejected" } });
  });

  // Concurrent answers to one task (one wins, the rest 409, one event) are tested end to end
  // (test/e2e/campaigns.test.mjs): answers share D1 round trips across requests, which this pool's runner cannot do.

  it("expired and failed tasks cannot be answered", async () => {
    const { probe, task } = await pushedTask();
    await env.DB.prepare("UPDATE tasks SET state = 'expired' WHERE id = ?").bind(task.id).run();
    expect((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status).toBe(409);
    await env.DB.prepare("UPDATE tasks SET state = 'failed' WHERE id = ?").bind(task.id).run();
    expect((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status).toBe(409);
  });

  it("another probe's task is 403; an unknown task 404; bad done bodies 400 and change nothing", async () => {
    const { task, probe } = await pushedTask();
    const other = await registerProbe({ probe_cc: "ZZ", token: "" });
    for (const [m, p] of [
      ["GET", `/api/v1/task/${task.id}`],
      ["POST", `/api/v1/task/${task.id}/accept`],
      ["POST", `/api/v1/task/${task.id}/reject`],
      ["POST", `/api/v1/task/${task.id}/done`],
    ]) {
      expect(await call(m, p, { token: other.token })).toMatchObject({ status: 403, body: { code: "forbidden" } });
    }
    expect((await call("GET", `/api/v1/task/${crypto.randomUUID()}`, { token: probe.token })).status).toBe(404);
    expect((await call("GET", `/api/v1/task/not-a-uuid`, { token: probe.token })).status).toBe(400);
    await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token });
    expect(
      (await call("POST", `/api/v1/task/${task.id}/done`, { token: probe.token, raw: "{nope", headers: { "content-type": "application/json" } })).status,
    ).toBe(400);
    expect((await call("POST", `/api/v1/task/${task.id}/done`, { token: probe.token, json: { result: { measurement_id: 42 } } })).status).toBe(400);
    expect((await call("POST", `/api/v1/task/${task.id}/done`, { token: probe.token, json: [] })).status).toBe(400);
    const row = await env.DB.prepare("SELECT state FROM tasks WHERE id = ?").bind(task.id).first<any>();
    expect(row.state).toBe("accepted");
  });

  it("task routes need a probe token: none → 401, an operator's → 403", async () => {
    const { task } = await pushedTask();
    for (const [m, p] of [
      ["GET", "/api/v1/tasks"],
      ["GET", `/api/v1/task/${task.id}`],
      ["POST", `/api/v1/task/${task.id}/accept`],
      ["POST", `/api/v1/task/${task.id}/reject`],
      ["POST", `/api/v1/task/${task.id}/done`],
    ]) {
      expect((await call(m, p)).status).toBe(401);
      expect((await call(m, p, { token: admin })).status).toBe(403);
      expect((await call(m, p, { token: "garbage.token.here" })).status).toBe(401);
    }
  });

  it("a task unanswered within its timeout expires (the probe's alarm multiplexes it)", async () => {
    const { probe, task } = await pushedTask();
    const { makeDue } = await import("./helpers");
    await makeDue(probe.clientId);
    const row = await env.DB.prepare("SELECT state FROM tasks WHERE id = ?").bind(task.id).first<any>();
    expect(row.state).toBe("expired");
    expect((await eventsOf({ taskId: task.id })).map((e) => e.type)).toContain("task.expired");
    expect((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status).toBe(409);
  });

  it("an answered task does not expire at its timeout", async () => {
    const { probe, task } = await pushedTask();
    await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token });
    const { makeDue } = await import("./helpers");
    await makeDue(probe.clientId);
    const row = await env.DB.prepare("SELECT state FROM tasks WHERE id = ?").bind(task.id).first<any>();
    expect(row.state).toBe("accepted");
  });
});
