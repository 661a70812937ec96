// Direct push end to end: `wrangler dev` with no gorush gateway, FCM credentials pointing at the fake in tools/ (which
// checks signatures, claims, headers and sizes as Google does), and FCM_IOS=on: the iOS app registers with Firebase,
// so FCM carries its pushes too, with an apns block (a Worker cannot reach APNs itself: push-ios-paths.test.mjs).
// One campaign targets Android and iOS probes; each push carries a working pingback URL; a stretch of 429s delays the
// run without losing or doubling anything; dead tokens are marked and skipped by the next run.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { directProviderVars } from "../../tools/fake-common.mjs";
import { startFakeFcm } from "../../tools/fake-fcm.mjs";
import { eventually, startPushService } from "./push-helpers.mjs";

/** An FCM registration token of an iPhone (an app registered with Firebase gets one instead of a bare APNs token). */
const iosFcmToken = (n) => `ios-fcm-token-${n}:APA91b${"x".repeat(40)}`;

describe("direct FCM and APNs delivery (wrangler dev + fake providers)", () => {
  let fcm;
  let service;
  let w;
  let call;
  let admin;
  let register;
  let campaign;
  let fireCron;

  before(async () => {
    fcm = await startFakeFcm();
    service = await startPushService({ vars: { ...directProviderVars(fcm), PUSH_TIMEOUT_MS: "5000" }, fakes: [fcm] });
    ({ w, call, admin, register, campaign, fireCron } = service);
  });
  after(async () => {
    await service?.stop();
  });

  it("one campaign reaches Android and iOS through FCM, iOS as a silent background push in the apns block, each push with a working pingback URL", async () => {
    const android = await register("IT", "android", "fcm-token-it-1");
    const ios = await register("IT", "ios", iosFcmToken(1));
    const jobId = await campaign("IT", "android + ios");
    await fireCron();
    await eventually(() => fcm.received.length >= 2, "both pushes at FCM");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fcm.received.length, 2);
    assert.equal(fcm.tokenRequests, 1, "the access token is minted once and shared");

    const f = fcm.received.find((r) => r.message.token === android.pushToken).message;
    assert.equal(f.data.type, "run_task");
    assert.deepEqual(f.android, { priority: "high", ttl: "3600s" });
    const a = fcm.received.find((r) => r.message.token === ios.pushToken).message;
    assert.deepEqual([a.apns.headers["apns-push-type"], a.apns.headers["apns-priority"]], ["background", "5"]);
    assert.deepEqual(a.apns.payload, { aps: { "content-available": 1 } });
    // The iOS push is collapsible by its task (a repeat after a lost answer shows once); Android gets no collapse key.
    assert.equal(a.apns.headers["apns-collapse-id"], a.data.task_id);
    assert.ok(!JSON.stringify(f).includes("collapse"));
    // One payload shape on both platforms.
    assert.deepEqual(Object.keys(a.data).sort(), Object.keys(f.data).sort());

    for (const [pingback, probe] of [
      [f.data.pingback_url, android],
      [a.data.pingback_url, ios],
    ]) {
      assert.ok(pingback.startsWith(`${w.url}/`), pingback);
      const task = await fetch(pingback).then((r) => r.json());
      assert.equal(task.test_name, "web_connectivity");
      assert.equal((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status, 200);
    }
    const detail = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    assert.equal(detail.body.delivery.sent, 2);
    const events = await call("GET", `/api/v1/admin/events?job_id=${jobId}&type=push.sent`, { token: admin });
    assert.deepEqual(
      events.body.events.map((e) => e.data.provider),
      ["fcm", "fcm"],
    );
    assert.ok(
      events.body.events.every((e) => e.data.provider_message_id),
      "provider message ids are logged",
    );
  });

  it("a run during which FCM answers 429 for a while completes late, with nothing lost or duplicated", async () => {
    const probes = [];
    for (let i = 0; i < 6; i++) probes.push(await register("GR", "android", `fcm-token-gr-${i}`));
    fcm.reset();
    fcm.inject({ status: 429, forMs: 2500, retryAfter: 2 });
    const jobId = await campaign("GR", "through a quota storm");
    const t0 = Date.now();
    await fireCron();
    await eventually(() => new Set(fcm.received.map((r) => r.message.token)).size === 6, "all six pushes delivered", 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    const tokens = fcm.received.map((r) => r.message.token).sort();
    assert.deepEqual(tokens, probes.map((p) => p.pushToken).sort(), "each probe exactly once");
    assert.ok(Date.now() - t0 >= 2000, "the storm delayed the run");
    const detail = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    assert.equal(detail.body.delivery.sent, 6);
    assert.ok(detail.body.delivery.retried >= 1, JSON.stringify(detail.body.delivery));
    const throttled = await call("GET", `/api/v1/admin/events?job_id=${jobId}&type=run.throttled`, { token: admin });
    assert.ok(throttled.body.events.length >= 1, "the rollout slowed down");
  });

  it("dead tokens are marked expired and skipped by the next run", async () => {
    const dead = await register("DE", "android", "fcm-token-dead");
    const deadIos = await register("DE", "ios", iosFcmToken(7));
    const alive = await register("DE", "android", "fcm-token-alive");
    fcm.reset();
    fcm.markDead([dead.pushToken, deadIos.pushToken]);
    await campaign("DE", "first run");
    await fireCron();
    const state = async (p) => (await call("GET", `/api/v1/admin/clients/${p.id}`, { token: admin })).body.token_state;
    await eventually(async () => (await state(dead)) === "expired" && (await state(deadIos)) === "expired", "both dead tokens marked");
    assert.equal(await state(alive), "valid");

    fcm.reset();
    const second = await campaign("DE", "second run");
    await fireCron();
    await eventually(() => fcm.received.length >= 1, "the live probe's push");
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      fcm.received.map((r) => r.message.token),
      [alive.pushToken],
    );
    const skipped = await call("GET", `/api/v1/admin/events?job_id=${second}&type=push.skipped`, { token: admin });
    assert.equal(skipped.body.events.length, 2, "the dead probes were skipped, not pushed");
  });
});
