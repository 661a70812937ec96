// Campaigns end to end over real HTTP: `wrangler dev` (real Durable Object alarms, real cron handler) and the fake
// gorush gateway in tools/. Register probes in two countries, target one, fire the cron, watch the pushes arrive,
// follow a pingback, accept and complete the task, and read the story back from the event history.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeGorush } from "../../tools/fake-gorush.mjs";
import { client, eventually, probeBody, SECRETS, startWorker } from "./harness.mjs";

describe("campaigns over real HTTP (wrangler dev + fake gorush)", () => {
  let w;
  let gw;
  let call;
  let admin;
  const password = "p".repeat(64);

  before(async () => {
    // gorush as the service expects it (docs/push.md): core.sync on, so failed pushes come back in its answer.
    gw = await startFakeGorush({ sync: true });
    w = await startWorker({ vars: { GORUSH_URL: gw.url, GORUSH_SYNC: "on" } });
    call = client(w.url);
    admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  });
  after(async () => {
    await w?.stop();
    await gw?.stop();
  });

  async function register(cc, token, platform = "android") {
    const r = await call("POST", "/api/v1/register", { json: probeBody({ probe_cc: cc, platform, token, password }) });
    assert.equal(r.status, 200);
    const login = await call("POST", "/api/v1/login", { json: { username: r.body.client_id, password } });
    return { id: r.body.client_id, token: login.body.token, pushToken: token };
  }

  const fireCron = async () => {
    const r = await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
    assert.equal(r.status, 200);
  };

  it("targeted probes get exactly one push each; the pingback leads to a task that is accepted and completed; the event history tells it all", async () => {
    const it1 = await register("IT", "it-token-1");
    const it2 = await register("IT", "it-token-2", "ios");
    const gr = await register("GR", "gr-token-1");

    const dry = await call("POST", "/api/v1/admin/job/dry-run", {
      json: { schedule: "R1//P", comment: "e2e", task: { test_name: "web_connectivity", arguments: {} }, target: { countries: ["IT"] } },
      token: admin,
    });
    assert.deepEqual([dry.body.targets, dry.body.projected_pushes_per_run], [2, 2]);

    const job = await call("POST", "/api/v1/admin/job", {
      json: {
        schedule: "R1//P",
        delay: 0,
        comment: "e2e: one run in Italy",
        task: { test_name: "web_connectivity", arguments: {} },
        target: { countries: ["IT"] },
      },
      token: admin,
      headers: { "Idempotency-Key": "e2e-campaign-1" },
    });
    assert.equal(job.status, 200);
    const jobId = job.body.id;

    await fireCron();
    await fireCron(); // a duplicated trigger must not double anything
    await eventually(() => gw.received.filter((r) => r.token.startsWith("it-")).length >= 2, "two pushes at the gateway");
    await new Promise((r) => setTimeout(r, 1500)); // would any duplicate arrive late?
    assert.deepEqual(gw.received.map((r) => r.token).sort(), ["it-token-1", "it-token-2"]);
    assert.ok(!gw.received.some((r) => r.token === gr.pushToken));

    const push = gw.received.find((r) => r.token === "it-token-1");
    assert.equal(push.data.type, "run_task");
    const { task_id: taskId, pingback_url: pingback } = push.data;
    assert.ok(pingback.startsWith(`${w.url}/api/v1/pingback/`), pingback);

    const task = await call("GET", new URL(pingback).pathname);
    assert.equal(task.status, 200);
    assert.equal(task.body.id, taskId);
    assert.equal(task.body.test_name, "web_connectivity");
    assert.equal(task.body.state, "notified");

    // The probe also sees it by pulling with its own token; the other Italian probe cannot touch it.
    const pulled = await call("GET", "/api/v1/tasks", { token: it1.token });
    assert.deepEqual(
      pulled.body.tasks.map((t) => t.id),
      [taskId],
    );
    assert.equal((await call("POST", `/api/v1/task/${taskId}/accept`, { token: it2.token })).status, 403);

    const accepted = await call("POST", new URL(task.body.accept_url).pathname);
    assert.deepEqual([accepted.status, accepted.body], [200, { status: "accepted" }]);
    const done = await call("POST", new URL(task.body.done_url).pathname, { json: { result: { report_id: "20260310T100000Z_IT_webconnectivity" } } });
    assert.deepEqual([done.status, done.body], [200, { status: "done" }]);
    assert.equal((await call("POST", `/api/v1/task/${taskId}/accept`, { token: it1.token })).status, 409);

    const detail = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    assert.equal(detail.body.state, "done");
    assert.equal(detail.body.times_run, 1);
    assert.equal(detail.body.runs.length, 1);
    assert.equal(detail.body.runs[0].targets, 2);
    assert.equal(detail.body.task_counts.done, 1);
    assert.equal(detail.body.task_counts.notified, 1);

    const story = await call("GET", `/api/v1/admin/events?job_id=${jobId}&order=asc&limit=500`, { token: admin });
    const types = story.body.events.map((e) => e.type);
    for (const t of [
      "job.created",
      "run.started",
      "task.created",
      "run.dispatched",
      "push.sent",
      "task.notified",
      "task.fetched",
      "task.accepted",
      "task.done",
    ]) {
      assert.ok(types.includes(t), `event ${t} missing from ${types.join(", ")}`);
    }
    assert.equal(types.filter((t) => t === "push.sent").length, 2);
    assert.equal(types.filter((t) => t === "run.started").length, 1);
    const mine = await call("GET", `/api/v1/admin/events?probe_id=${it1.id}&type=task.*&order=asc`, { token: admin });
    assert.deepEqual(
      mine.body.events.map((e) => e.type),
      ["task.created", "task.notified", "task.fetched", "task.accepted", "task.done"],
    );
    const sent = story.body.events.find((e) => e.type === "push.sent" && e.probe_id === it1.id);
    assert.deepEqual([sent.data.provider, sent.data.status], ["gorush", 200]);
  });

  it("20 probes following their pingbacks and answering at once: every task ends done, each answer applied exactly once", async () => {
    const probes = await Promise.all(Array.from({ length: 20 }, (_, i) => register("BR", `br-token-${i}`)));
    const job = await call("POST", "/api/v1/admin/job", {
      json: {
        schedule: "R1//P",
        delay: 0,
        comment: "e2e: a wave in Brazil",
        task: { test_name: "web_connectivity", arguments: {} },
        target: { countries: ["BR"] },
      },
      token: admin,
    });
    assert.equal(job.status, 200);
    await fireCron();
    await eventually(() => gw.received.filter((r) => r.token.startsWith("br-")).length >= 20, "twenty pushes at the gateway");
    const pushes = gw.received.filter((r) => r.token.startsWith("br-"));
    const outcomes = await Promise.all(
      pushes.map(async (push) => {
        const task = await call("GET", new URL(push.data.pingback_url).pathname);
        assert.equal(task.status, 200);
        // The same answer sent twice at once (a retrying client): one applies, the other is refused.
        const accepts = await Promise.all([call("POST", new URL(task.body.accept_url).pathname), call("POST", new URL(task.body.accept_url).pathname)]);
        const done = await call("POST", new URL(task.body.done_url).pathname, { json: { result: { ok: true } } });
        return { accepts: accepts.map((r) => r.status).sort(), done: done.status };
      }),
    );
    for (const o of outcomes) assert.deepEqual(o, { accepts: [200, 409], done: 200 });
    const detail = await call("GET", `/api/v1/admin/job/${job.body.id}`, { token: admin });
    assert.equal(detail.body.task_counts.done, 20);
    const story = await call("GET", `/api/v1/admin/events?job_id=${job.body.id}&type=task.*&limit=500`, { token: admin });
    const count = (t) => story.body.events.filter((e) => e.type === t).length;
    assert.deepEqual([count("task.fetched"), count("task.accepted"), count("task.done")], [20, 20, 20]);
    assert.equal(new Set(probes.map((p) => p.id)).size, 20);
  });

  it("gateway trouble: a 429 with Retry-After is retried and delivered; a dead token is marked expired", async () => {
    gw.reset();
    const ok = await register("FR", "fr-live");
    const dead = await register("FR", "fr-dead");
    gw.injectFailures({ deadTokens: ["fr-dead"], error: "BadDeviceToken", status: { code: 429, count: 1, retryAfter: 1 } });
    const job = await call("POST", "/api/v1/admin/job", {
      json: { schedule: "R1//P", comment: "e2e: failures", task: { test_name: "web_connectivity" }, target: { countries: ["FR"] } },
      token: admin,
    });
    await fireCron();
    await eventually(() => gw.received.some((r) => r.token === "fr-live"), "the live token's push after the retry");
    const state = await eventually(async () => {
      const r = await call("GET", `/api/v1/admin/clients/${dead.id}`, { token: admin });
      return r.body.token_state === "expired" && r.body;
    }, "the dead token to be marked expired");
    assert.equal(state.token_state, "expired");
    assert.equal((await call("GET", `/api/v1/admin/clients/${ok.id}`, { token: admin })).body.token_state, "valid");
    assert.equal(gw.requests.filter((r) => r.status === 429).length, 1);
    const types = (await call("GET", `/api/v1/admin/events?job_id=${job.body.id}&limit=500`, { token: admin })).body.events.map((e) => e.type);
    assert.ok(types.includes("push.retry"), types.join(", "));
    assert.ok(types.includes("push.failed"), types.join(", "));
  });
});
