// The fake providers in tools/ must refuse what the real ones refuse, or they would hide bugs.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http2 from "node:http2";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import { startFakeApns } from "../../tools/fake-apns.mjs";
import { startFakeFcm } from "../../tools/fake-fcm.mjs";
import { apnsRequestOf, hideToken, startFakeGorush } from "../../tools/fake-gorush.mjs";

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function sign(alg, header, payload, pem) {
  const h = b64({ alg, typ: "JWT", ...header });
  const p = b64(payload);
  const data = Buffer.from(`${h}.${p}`);
  const sig = alg === "RS256" ? crypto.sign("RSA-SHA256", data, pem) : crypto.sign("SHA256", data, { key: pem, dsaEncoding: "ieee-p1363" });
  return `${h}.${p}.${sig.toString("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);

describe("fake FCM", () => {
  let f;
  before(async () => (f = await startFakeFcm()));
  after(() => f.stop());
  const assertion = (over = {}, key = f.serviceAccount.private_key) =>
    sign(
      "RS256",
      { kid: f.serviceAccount.private_key_id },
      {
        iss: f.serviceAccount.client_email,
        aud: f.serviceAccount.token_uri,
        scope: "https://www.googleapis.com/auth/firebase.messaging",
        iat: now(),
        exp: now() + 3600,
        ...over,
      },
      key,
    );
  const exchange = (a) =>
    fetch(`${f.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: a }),
    });

  it("issues an access token only for a correctly signed assertion with Google's claims", async () => {
    const ok = await exchange(assertion());
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).expires_in, 3599);
    const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    for (const bad of [assertion({}, other), assertion({ aud: "https://elsewhere/token" }), assertion({ scope: "email" }), assertion({ exp: now() + 7200 })]) {
      assert.equal((await exchange(bad)).status, 400);
    }
  });

  it("sends only with a valid access token, string data, one target and at most 4 KB", async () => {
    const token = (await (await exchange(assertion())).json()).access_token;
    const send = (message, t = token) =>
      fetch(`${f.url}/v1/projects/${f.serviceAccount.project_id}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
        body: JSON.stringify({ message }),
      });
    assert.equal((await send({ token: "t", data: { a: "1" } })).status, 200);
    assert.equal((await send({ token: "t", data: { a: "1" } }, "forged")).status, 401);
    assert.equal((await send({ token: "t", data: { a: 1 } })).status, 400);
    assert.equal((await send({ token: "t", topic: "x" })).status, 400);
    assert.equal((await send({ token: "t", data: { a: "x".repeat(5000) } })).status, 400);
    f.markDead(["dead"]);
    const dead = await send({ token: "dead" });
    assert.equal(dead.status, 404);
    assert.equal((await dead.json()).error.details[0].errorCode, "UNREGISTERED");
    f.inject({ status: 429, count: 1, retryAfter: 7 });
    const limited = await send({ token: "t" });
    assert.deepEqual([limited.status, limited.headers.get("retry-after")], [429, "7"]);
    assert.equal(f.received.length, 1);
  });
});

describe("fake APNs", () => {
  let f;
  before(async () => (f = await startFakeApns()));
  after(() => f.stop());

  it("refuses HTTP/1.1 as Apple does: a client that does not negotiate h2 gets no answer", async () => {
    const before = f.refusedHttp1;
    const outcome = await new Promise((resolve) => {
      const req = https.request(`${f.url}/3/device/${"ab".repeat(32)}`, { method: "POST", ca: f.ca, ALPNProtocols: ["http/1.1"], timeout: 5000 }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on("error", (e) => resolve(`refused: ${e.code ?? e.message}`));
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.end("{}");
    });
    assert.match(outcome, /^refused/);
    assert.equal(f.refusedHttp1, before + 1);
    assert.equal(f.received.length, 0);
  });
  const HEX = "ab".repeat(32);
  const providerToken = (over = {}, header = {}) => sign("ES256", { kid: f.key.keyId, ...header }, { iss: f.key.teamId, iat: now(), ...over }, f.key.key);
  /** One APNs request over HTTP/2 (TLS, ALPN h2), answered as { status, headers, json() } like a fetch Response. */
  const push = (headers, body = { aps: { "content-available": 1 } }, device = HEX) =>
    new Promise((resolve, reject) => {
      const session = http2.connect(f.url, { ca: f.ca });
      session.on("error", reject);
      const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));
      const req = session.request({ ":method": "POST", ":path": `/3/device/${device}`, "content-type": "application/json", ...clean });
      const chunks = [];
      let h = {};
      req.on("response", (r) => (h = r));
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        session.close();
        const text = Buffer.concat(chunks).toString();
        resolve({ status: h[":status"], headers: { get: (n) => h[n] ?? null }, json: async () => JSON.parse(text) });
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  const bg = (t) => ({ authorization: `bearer ${t}`, "apns-topic": f.topic, "apns-push-type": "background", "apns-priority": "5" });

  it("accepts a valid background push and refuses what Apple refuses, with Apple's reasons", async () => {
    const t = providerToken();
    const ok = await push(bg(t));
    assert.equal(ok.status, 200);
    assert.ok(ok.headers.get("apns-id"));
    const reason = async (r) => [r.status, (await r.json()).reason];
    assert.deepEqual(await reason(await push({ ...bg(t), "apns-topic": "com.other" })), [400, "TopicDisallowed"]);
    assert.deepEqual(await reason(await push({ ...bg(t), "apns-priority": "10" })), [400, "BadPriority"]);
    assert.deepEqual(await reason(await push(bg(t), { aps: { alert: "hi", "content-available": 1 } })), [400, "BadPayload"]);
    assert.deepEqual(await reason(await push(bg(t), undefined, "nothex")), [400, "BadDeviceToken"]);
    assert.deepEqual(await reason(await push(bg(t), { aps: { "content-available": 1 }, pad: "x".repeat(5000) })), [413, "PayloadTooLarge"]);
    assert.deepEqual(await reason(await push({ ...bg(t), authorization: undefined })), [403, "MissingProviderToken"]);
    f.markDead([HEX.replace(/a/g, "c")]);
    assert.deepEqual(await reason(await push(bg(t), undefined, HEX.replace(/a/g, "c"))), [410, "Unregistered"]);
  });

  it("refuses expired, foreign and too-often-rotated provider tokens", async () => {
    const reason = async (r) => [r.status, (await r.json()).reason];
    assert.deepEqual(await reason(await push(bg(providerToken({ iat: now() - 4000 })))), [403, "ExpiredProviderToken"]);
    assert.deepEqual(await reason(await push(bg(providerToken({ iss: "OTHERTEAM" })))), [403, "InvalidProviderToken"]);
    assert.deepEqual(await reason(await push(bg(providerToken({}, { kid: "WRONGKID" })))), [403, "InvalidProviderToken"]);
    // A second distinct token minutes after the first: Apple's TooManyProviderTokenUpdates.
    assert.deepEqual(await reason(await push(bg(providerToken({ iat: now() - 5 })))), [429, "TooManyProviderTokenUpdates"]);
  });
});

describe("fake gorush (a default gorush v1.18+)", () => {
  let fcm;
  let apns;
  before(async () => {
    fcm = await startFakeFcm();
    apns = await startFakeApns({ topic: "org.openobservatory.ooniprobe" });
  });
  after(async () => {
    await fcm.stop();
    await apns.stop();
  });
  const post = (gw, body) => fetch(`${gw.url}/api/push`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const IOS = "cd".repeat(32);
  const ios = (over = {}) => ({
    notif_id: "n-ios",
    tokens: [IOS],
    platform: 1,
    topic: apns.topic,
    push_type: "background",
    priority: "normal",
    content_available: true,
    data: { type: "run_task" },
    ...over,
  });
  const android = (token, over = {}) => ({ notif_id: `n-${token}`, tokens: [token], platform: 2, priority: "high", data: { type: "run_task" }, ...over });

  it("refuses as gorush does: missing, empty and over max_notification (100)", async () => {
    const gw = await startFakeGorush();
    try {
      for (const [body, message] of [
        [{}, "Missing notifications field."],
        [{ notifications: [] }, "Notifications field is empty."],
        [{ notifications: Array.from({ length: 101 }, (_, i) => android(`t${i}`)) }, "Number of notifications(101) over limit(100)"],
      ]) {
        const r = await post(gw, body);
        assert.deepEqual([r.status, await r.json()], [400, { code: 400, message }]);
      }
    } finally {
      await gw.stop();
    }
  });

  it("with core.sync on, a dead token comes back as a failed-push log with the token hidden and the provider's own text", async () => {
    const gw = await startFakeGorush({ sync: true, fcm, apns });
    try {
      fcm.markDead(["android-dead-token-0123456789"]);
      apns.markDead([IOS]);
      const r = await post(gw, { notifications: [android("android-dead-token-0123456789"), ios(), android("android-live-token-0123456789")] });
      const body = await r.json();
      assert.equal(body.success, "ok");
      assert.equal(body.counts, 4, "one per token, plus one for the iOS notification's topic, as gorush counts");
      const byId = Object.fromEntries(body.logs.map((l) => [l.notif_id, l]));
      assert.deepEqual(byId["n-android-dead-token-0123456789"], {
        notif_id: "n-android-dead-token-0123456789",
        type: "failed-push",
        platform: "android",
        token: hideToken("android-dead-token-0123456789"),
        message: "",
        error: "Requested entity was not found.",
      });
      assert.equal(byId["n-ios"].error, "Unregistered");
      assert.ok(!JSON.stringify(body.logs).includes(IOS) && body.logs.every((l) => l.token.startsWith("**********")));
      assert.equal(body.logs.length, 2);
      assert.equal(fcm.received.at(-1).message.token, "android-live-token-0123456789");
    } finally {
      await gw.stop();
    }
  });

  it("with core.sync off (gorush's default) it answers before pushing: no logs, even for a dead token", async () => {
    const gw = await startFakeGorush({ fcm, apns });
    try {
      fcm.markDead(["android-dead-token-async-0000"]);
      const body = await (await post(gw, { notifications: [android("android-dead-token-async-0000")] })).json();
      assert.deepEqual(body, { counts: 1, logs: [], success: "ok" });
    } finally {
      await gw.stop();
    }
  });

  it("a platform that is not enabled is dropped without a word: counts 0, success ok", async () => {
    const gw = await startFakeGorush({ sync: true, platforms: { ios: false, android: true } });
    try {
      assert.deepEqual(await (await post(gw, { notifications: [ios()] })).json(), { counts: 0, logs: [], success: "ok" });
      assert.equal(gw.received.length, 0);
    } finally {
      await gw.stop();
    }
  });

  it("relays iOS to APNs over HTTP/2 as apns2 does: without push_type a silent push goes as an alert at priority 10", async () => {
    assert.deepEqual(apnsRequestOf({ content_available: true, data: { a: "1" } }).headers, { "apns-push-type": "alert" });
    const gw = await startFakeGorush({ sync: true, apns });
    try {
      apns.reset();
      const body = await (await post(gw, { notifications: [ios({ expiration: 1900000000, collapse_id: "t-9" })] })).json();
      assert.deepEqual(body.logs, []);
      const got = apns.received.at(-1);
      assert.deepEqual([got.httpVersion, got.pushType, got.priority, got.collapseId, got.expiration], ["2.0", "background", "5", "t-9", "1900000000"]);
      assert.deepEqual(got.payload, { aps: { "content-available": 1 }, type: "run_task" });
    } finally {
      await gw.stop();
    }
  });
});
