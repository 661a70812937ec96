// The fake providers in tools/ must refuse what the real ones refuse, or they would hide bugs.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startFakeApns } from "../../tools/fake-apns.mjs";
import { startFakeFcm } from "../../tools/fake-fcm.mjs";

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
  const HEX = "ab".repeat(32);
  const providerToken = (over = {}, header = {}) => sign("ES256", { kid: f.key.keyId, ...header }, { iss: f.key.teamId, iat: now(), ...over }, f.key.key);
  const push = (headers, body = { aps: { "content-available": 1 } }, device = HEX) =>
    fetch(`${f.url}/3/device/${device}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
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
