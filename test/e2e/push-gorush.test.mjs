// gorush end to end, the path that carries iOS pushes to APNs tokens: `wrangler dev` → fake gorush (a default gorush
// v1.18+ with core.sync on, tokens hidden in its logs) → fake FCM over HTTP v1 and fake APNs over HTTP/2 only (TLS,
// ALPN h2), both checking signatures and headers as Google and Apple do. Silent iOS task pushes arrive as background
// pushes at priority 5; dead tokens reported through gorush (FCM v1's text, APNs reasons) are marked expired; and
// nothing is counted as delivered that gorush did not deliver (a disabled platform, core.sync off).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeApns } from "../../tools/fake-apns.mjs";
import { startFakeFcm } from "../../tools/fake-fcm.mjs";
import { startFakeGorush } from "../../tools/fake-gorush.mjs";
import { eventually, startPushService } from "./push-helpers.mjs";

const hex = (n) => n.toString(16).padStart(2, "0").repeat(32);
const TOPIC = "org.openobservatory.ooniprobe";

describe("gorush with core.sync on (GORUSH_SYNC=on): iOS over HTTP/2, dead tokens through both platforms", () => {
  let fcm;
  let apns;
  let f;
  let call;
  let admin;
  let fireCron;

  before(async () => {
    fcm = await startFakeFcm();
    apns = await startFakeApns({ topic: TOPIC });
    const gw = await startFakeGorush({ sync: true, apns, fcm });
    f = await startPushService({
      vars: { GORUSH_URL: gw.url, GORUSH_SYNC: "on", GORUSH_IOS_TOPIC: TOPIC, PUSH_TIMEOUT_MS: "5000" },
      fakes: [gw, fcm, apns],
    });
    ({ call, admin, fireCron } = f);
  });
  after(async () => {
    await f?.stop();
  });

  it("a task reaches iOS at APNs over HTTP/2 as a silent background push and Android at FCM, with one payload shape", async () => {
    const android = await f.register("IT", "android", "fcm-token-it-0123456789");
    const ios = await f.register("IT", "ios", hex(1));
    const jobId = await f.campaign("IT", "android + ios through gorush");
    await fireCron();
    await eventually(() => fcm.received.length >= 1 && apns.received.length >= 1, "a push at each provider");
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fcm.received.length, 1);
    assert.equal(apns.received.length, 1);

    const a = apns.received[0];
    assert.deepEqual([a.httpVersion, a.device, a.topic, a.pushType, a.priority], ["2.0", ios.pushToken, TOPIC, "background", "5"]);
    assert.deepEqual(a.payload.aps, { "content-available": 1 });
    assert.equal(a.collapseId, a.payload.task_id);
    const ttl = Number(a.expiration) - Math.floor(Date.now() / 1000);
    assert.ok(ttl > 3500 && ttl <= 3600, `an hour's expiration, got ${ttl}s`);

    const m = fcm.received[0].message;
    assert.equal(m.token, android.pushToken);
    assert.deepEqual(m.android, { priority: "high", ttl: "3600s" });
    assert.ok(!("notification" in m), "a data message, no empty notification object");
    // The app reads the same keys on both platforms: FCM data, and top-level keys beside aps.
    const { aps, ...iosData } = a.payload;
    assert.deepEqual(Object.keys(iosData).sort(), ["pingback_url", "task_id", "type"]);
    assert.deepEqual(Object.keys(m.data).sort(), ["pingback_url", "task_id", "type"]);
    assert.equal(m.data.type, "run_task");

    for (const [pingback, probe] of [
      [m.data.pingback_url, android],
      [a.payload.pingback_url, ios],
    ]) {
      const task = await fetch(pingback).then((r) => r.json());
      assert.equal(task.test_name, "web_connectivity");
      assert.equal((await call("POST", `/api/v1/task/${task.id}/accept`, { token: probe.token })).status, 200);
    }
    const detail = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    assert.deepEqual([detail.body.delivery.sent, detail.body.delivery.accepted], [2, 0]);
  });

  it("dead tokens reported through gorush, hidden in its logs, are marked expired on both platforms and skipped next run", async () => {
    const deadAndroid = await f.register("DE", "android", "fcm-token-de-dead-0123456789");
    const deadIos = await f.register("DE", "ios", hex(7));
    const alive = await f.register("DE", "android", "fcm-token-de-alive-0123456789");
    fcm.reset();
    apns.reset();
    fcm.markDead([deadAndroid.pushToken]);
    apns.markDead([deadIos.pushToken]);
    const first = await f.campaign("DE", "first run");
    await fireCron();
    const state = async (p) => (await call("GET", `/api/v1/admin/clients/${p.id}`, { token: admin })).body.token_state;
    await eventually(async () => (await state(deadAndroid)) === "expired" && (await state(deadIos)) === "expired", "both dead tokens marked");
    assert.equal(await state(alive), "valid");
    const failed = await call("GET", `/api/v1/admin/events?job_id=${first}&type=push.failed`, { token: admin });
    assert.deepEqual(failed.body.events.map((e) => e.data.error).sort(), ["Requested entity was not found.", "Unregistered"]);

    fcm.reset();
    apns.reset();
    const second = await f.campaign("DE", "second run");
    await fireCron();
    await eventually(() => fcm.received.length >= 1, "the live probe's push");
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      fcm.received.map((r) => r.message.token),
      [alive.pushToken],
    );
    assert.equal(apns.received.length, 0);
    const skipped = await call("GET", `/api/v1/admin/events?job_id=${second}&type=push.skipped`, { token: admin });
    assert.equal(skipped.body.events.length, 2, "the dead probes were skipped, not pushed");
  });
});

describe("nothing counted as delivered that gorush did not deliver", () => {
  let w;
  let gw;
  let call;
  let f;
  let admin;

  before(async () => {
    // gorush's defaults: core.sync off, and (here) iOS not enabled in the gateway.
    gw = await startFakeGorush({ sync: false, platforms: { ios: false, android: true } });
    f = await startPushService({ vars: { GORUSH_URL: gw.url, GORUSH_SYNC: "off", GORUSH_IOS_TOPIC: TOPIC }, fakes: [gw] });
    ({ w, call, admin } = f);
  });
  after(async () => {
    await f?.stop();
  });

  it("without core.sync a push is only accepted by the gateway; a disabled platform (counts 0) is a failure, not a delivery", async () => {
    await f.register("FR", "android", "fcm-token-fr-0123456789");
    await f.register("FR", "ios", hex(9));
    const jobId = await f.campaign("FR", "async gateway");
    assert.equal((await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`)).status, 200);
    const delivery = async () => (await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin })).body.delivery;
    await eventually(async () => {
      const d = await delivery();
      return d.accepted + d.failed >= 2;
    }, "both pushes answered");
    const d = await delivery();
    assert.deepEqual([d.sent, d.accepted, d.failed, d.token_expired], [0, 1, 1, 0]);
    const failed = await call("GET", `/api/v1/admin/events?job_id=${jobId}&type=push.failed`, { token: admin });
    assert.match(failed.body.events[0].data.error, /counts 0.*ios enabled/);
    assert.equal(gw.received.length, 1);
  });
});
