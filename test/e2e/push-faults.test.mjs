// Provider faults, black box: a campaign's pushes through a fake gorush and through a fake FCM that hold requests past
// PUSH_TIMEOUT_MS, drop the connection mid-request, answer 5xx, or answer 429 with Retry-After. Asserted only on what
// the fakes received and on the admin API: every target is pushed (none lost), a push whose answer arrived is never
// repeated, the campaign's delivery counts end sane, and the 429 slowed the run (its retry waited for Retry-After).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { directProviderVars } from "../../tools/fake-common.mjs";
import { startFakeFcm } from "../../tools/fake-fcm.mjs";
import { startFakeGorush } from "../../tools/fake-gorush.mjs";
import { eventually } from "./harness.mjs";
import { startPushService } from "./push-helpers.mjs";

const PUSH_TIMEOUT_MS = "1000";
const RETRY_AFTER_S = 2;

/** `n` Android probes of `cc`, each with its own push token (registered through startPushService). */
async function fleetOf(svc, cc, n) {
  const probes = [];
  for (let i = 0; i < n; i++) probes.push(await svc.register(cc, "android", `fcm-token-${cc.toLowerCase()}-${i}-${"x".repeat(24)}`));
  return probes;
}

const count = (xs) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map());

/** What every provider-fault run must show, from the fakes' records and the admin API. */
async function assertSane({ call, admin, jobId, probes, pushedTokens, faultedAt429 }) {
  const tokens = probes.map((p) => p.pushToken);
  await eventually(() => tokens.every((t) => pushedTokens().includes(t)), "every target pushed at least once", 60_000);
  // Anything still retrying would show up here: give stragglers a moment, then count.
  await new Promise((r) => setTimeout(r, 1500));
  const got = count(pushedTokens());
  for (const t of tokens) assert.equal(got.get(t), 1, `${t} pushed once after its answer arrived (got ${got.get(t)})`);
  const detail = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
  assert.equal(detail.status, 200);
  assert.equal(detail.body.delivery.sent, probes.length, JSON.stringify(detail.body.delivery));
  assert.equal(detail.body.delivery.failed, 0, JSON.stringify(detail.body.delivery));
  const retries = await call("GET", `/api/v1/admin/events?job_id=${jobId}&type=push.retry`, { token: admin });
  assert.ok(retries.body.events.length >= 4, `a push.retry event per fault, got ${retries.body.events.length}`);
  assert.ok(
    retries.body.events.some((e) => JSON.stringify(e.data).includes("429")),
    "the throttled answer is in the delivery log",
  );
  // The 429 slowed the run: the throttled token's push came no earlier than its Retry-After.
  const t429 = faultedAt429();
  assert.ok(t429, "a 429 was answered");
  const pushedAt = t429.pushedAt();
  assert.ok(pushedAt - t429.at >= RETRY_AFTER_S * 1000 - 50, `retry waited ${pushedAt - t429.at} ms after a 429 with Retry-After ${RETRY_AFTER_S}`);
}

describe("a gateway (gorush) that times out, drops connections, answers 5xx and 429", () => {
  let gw;
  let svc;

  before(async () => {
    gw = await startFakeGorush({ sync: true });
    svc = await startPushService({ vars: { GORUSH_URL: gw.url, GORUSH_SYNC: "on", PUSH_TIMEOUT_MS }, fakes: [gw] });
  });
  after(async () => {
    await svc?.stop();
  });

  it("pushes every target exactly once after its answer arrived, and a 429's retry waits for Retry-After", { timeout: 90_000 }, async () => {
    const probes = await fleetOf(svc, "PF", 5);
    // One fault per chosen token (the first request carrying it), whatever order the run sends them in.
    gw.injectFailures({
      tokens: {
        [probes[0].pushToken]: { mode: "hang", holdMs: 5000 },
        [probes[1].pushToken]: { mode: "close" },
        [probes[2].pushToken]: { status: 502 },
        [probes[3].pushToken]: { status: 429, retryAfter: RETRY_AFTER_S },
      },
    });
    const jobId = await svc.campaign("PF", "provider faults PF");
    await svc.fireCron();
    await assertSane({
      call: svc.call,
      admin: svc.admin,
      jobId,
      probes,
      pushedTokens: () => gw.received.map((r) => r.token),
      faultedAt429: () => {
        const r = gw.requests.find((q) => q.fault === "429");
        return r && { at: r.at, pushedAt: () => gw.received.find((x) => x.token === probes[3].pushToken).at };
      },
    });
    assert.deepEqual(
      gw.requests
        .filter((r) => r.fault)
        .map((r) => r.fault)
        .sort(),
      ["429", "502", "close", "hang"],
    );
  });
});

describe("FCM HTTP v1 directly, with the same faults", () => {
  let fcm;
  let svc;

  before(async () => {
    fcm = await startFakeFcm();
    svc = await startPushService({ vars: { ...directProviderVars(fcm), PUSH_TIMEOUT_MS }, fakes: [fcm] });
  });
  after(async () => {
    await svc?.stop();
  });

  it("pushes every target exactly once after its answer arrived, and a 429's retry waits for Retry-After", { timeout: 90_000 }, async () => {
    const probes = await fleetOf(svc, "PG", 5);
    // The first four sends fault, one each, in this order.
    fcm.inject({ mode: "hang", holdMs: 5000 });
    fcm.inject({ mode: "close" });
    fcm.inject({ status: 503 });
    fcm.inject({ status: 429, retryAfter: RETRY_AFTER_S });
    const jobId = await svc.campaign("PG", "provider faults PG");
    await svc.fireCron();
    await assertSane({
      call: svc.call,
      admin: svc.admin,
      jobId,
      probes,
      pushedTokens: () => fcm.received.map((r) => r.message.token),
      faultedAt429: () => {
        const f = fcm.faulted.find((x) => x.fault === "429");
        return f && { at: f.at, pushedAt: () => fcm.received.find((x) => x.message.token === f.token).at };
      },
    });
    assert.deepEqual(fcm.faulted.map((f) => f.fault).sort(), ["429", "503", "close", "hang"]);
  });
});
