import { decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it, vi } from "vitest";
import { fixedClock } from "../../functions/lib/clock";
import { type AccessTokenSource, exchangeAssertion, FCM_SCOPE, fcmAssertion, FcmProvider, mapFcmResponse, parseServiceAccount } from "../../functions/push/fcm";
import { MAX_PUSH_PAYLOAD_BYTES } from "../../functions/push/payload";
import type { PushMessage } from "../../functions/push/types";
import { testServiceAccount } from "./keys";

const clock = fixedClock("2026-11-24T12:00:00Z");
const msg: PushMessage = { kind: "task", taskId: "task-1", pingbackUrl: "https://probes.example.org/p/abc" };
const target = { probeId: "p1", platform: "android", token: "fcm-reg-token" };

// No vi.restoreAllMocks() here: these tests pass their own fetchers, and restoring would also undo the campaign
// tests' gateway spy on the shared isolate's fetch (test/campaigns/helpers.ts installGateway).

describe("FCM service-account assertion", () => {
  it("is an RS256 JWT that verifies with the account's public key, with Google's claims", async () => {
    const { account, publicKey } = await testServiceAccount();
    const sa = parseServiceAccount(JSON.stringify(account));
    const jwt = await fcmAssertion(sa, clock);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "RS256", typ: "JWT", kid: "kid-123" });
    const { payload } = await jwtVerify(jwt, publicKey, { audience: "https://oauth2.test/token", currentDate: clock.now() });
    expect(payload).toMatchObject({ iss: account.client_email, scope: FCM_SCOPE });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("a key file that is not a service account is refused with the missing fields named", () => {
    expect(() => parseServiceAccount("{}")).toThrow(/project_id/);
    expect(() => parseServiceAccount("nope")).toThrow(/not JSON/);
  });

  it("is exchanged at the account's own token_uri as a jwt-bearer grant", async () => {
    const { account } = await testServiceAccount("https://oauth2.test/custom-token");
    const sa = parseServiceAccount(JSON.stringify(account));
    const spy = vi.fn<typeof fetch>(async (input, init) => {
      expect(String(input)).toBe("https://oauth2.test/custom-token");
      const form = new URLSearchParams(String(init!.body));
      expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
      expect(form.get("assertion")!.split(".")).toHaveLength(3);
      return Response.json({ access_token: "ya29.token", expires_in: 3599, token_type: "Bearer" });
    });
    const t = await exchangeAssertion(sa, await fcmAssertion(sa, clock), clock, 1000, spy);
    expect(t).toEqual({ token: "ya29.token", expiresAt: clock.now().getTime() + 3_599_000 });
    expect(spy).toHaveBeenCalledOnce();
  });

  it("a refused exchange throws instead of caching a half-made token", async () => {
    const { account } = await testServiceAccount();
    const sa = parseServiceAccount(JSON.stringify(account));
    const refused = vi.fn<typeof fetch>(async () => Response.json({ error: "invalid_grant" }, { status: 400 }));
    await expect(exchangeAssertion(sa, "x.y.z", clock, 1000, refused)).rejects.toThrow(/400/);
  });
});

describe("FCM error mapping", () => {
  const fcmError = (status: number, errorCode: string, message = "x") =>
    JSON.stringify({
      error: { code: status, message, status: errorCode, details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }] },
    });

  it("200 is sent, with the message name as the provider id", () => {
    expect(mapFcmResponse(200, '{"name":"projects/p/messages/0:123"}', null, clock)).toEqual({
      outcome: "sent",
      provider: "fcm",
      status: 200,
      providerMessageId: "projects/p/messages/0:123",
    });
  });
  it("UNREGISTERED (404) and INVALID_ARGUMENT about the token mark the token expired", () => {
    expect(mapFcmResponse(404, fcmError(404, "UNREGISTERED"), null, clock).outcome).toBe("token-expired");
    expect(mapFcmResponse(400, fcmError(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), null, clock).outcome).toBe(
      "token-expired",
    );
  });
  it("QUOTA_EXCEEDED / 429 retry and honour Retry-After (seconds or HTTP date)", () => {
    expect(mapFcmResponse(429, fcmError(429, "QUOTA_EXCEEDED"), "30", clock)).toMatchObject({ outcome: "retry", retryAfterMs: 30_000 });
    expect(mapFcmResponse(429, "", "Tue, 24 Nov 2026 12:01:00 GMT", clock)).toMatchObject({ outcome: "retry", retryAfterMs: 60_000 });
  });
  it("5xx and UNAVAILABLE/INTERNAL retry", () => {
    expect(mapFcmResponse(503, fcmError(503, "UNAVAILABLE"), null, clock).outcome).toBe("retry");
    expect(mapFcmResponse(500, "<html>oops</html>", null, clock).outcome).toBe("retry");
  });
  it("other errors (bad sender, bad payload) are permanent rejections, not token deaths", () => {
    expect(mapFcmResponse(403, fcmError(403, "SENDER_ID_MISMATCH"), null, clock)).toMatchObject({
      outcome: "rejected",
      error: expect.stringContaining("SENDER_ID_MISMATCH"),
    });
    expect(mapFcmResponse(400, fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received"), null, clock).outcome).toBe("rejected");
  });
});

describe("FcmProvider.send", () => {
  const tokens = (): AccessTokenSource & { calls: boolean[] } => {
    const calls: boolean[] = [];
    return {
      calls,
      fcmAccessToken: async (force = false) => {
        calls.push(force);
        return force ? "fresh-token" : "cached-token";
      },
    };
  };
  const provider = (t: AccessTokenSource, fetcher: typeof fetch) =>
    new FcmProvider({ baseUrl: "https://fcm.test", projectId: "proj", tokens: t, clock, timeoutMs: 1000, fetcher });

  it("posts one data message per target with task_id and the pingback URL as strings", async () => {
    const spy = vi.fn<typeof fetch>(async () => Response.json({ name: "projects/proj/messages/1" }));
    const r = await provider(tokens(), spy).send(target, msg);
    expect(r.outcome).toBe("sent");
    const [url, init] = spy.mock.calls[0];
    expect(String(url)).toBe("https://fcm.test/v1/projects/proj/messages:send");
    expect(new Headers(init!.headers).get("authorization")).toBe("Bearer cached-token");
    const body = JSON.parse(String(init!.body));
    expect(body.message.token).toBe("fcm-reg-token");
    expect(body.message.data).toEqual({ type: "run_task", task_id: "task-1", pingback_url: "https://probes.example.org/p/abc" });
    for (const v of Object.values(body.message.data)) expect(typeof v).toBe("string");
    expect(init!.signal).toBeInstanceOf(AbortSignal);
  });

  it("expires an Android push after an hour, as every path does (android.ttl)", async () => {
    const spy = vi.fn<typeof fetch>(async () => Response.json({ name: "projects/proj/messages/1" }));
    await provider(tokens(), spy).send(target, msg);
    expect(JSON.parse(String(spy.mock.calls[0][1]!.body)).message.android).toEqual({ priority: "high", ttl: "3600s" });
  });

  it("an iOS task for a Firebase-registered app carries an apns block Apple takes as a silent background push", async () => {
    const spy = vi.fn<typeof fetch>(async () => Response.json({ name: "projects/proj/messages/2" }));
    const ios = { probeId: "p2", platform: "ios", token: "fcm-token-of-an-iphone" };
    expect((await provider(tokens(), spy).send(ios, { ...msg, collapseId: "task-1" })).outcome).toBe("sent");
    const { message } = JSON.parse(String(spy.mock.calls[0][1]!.body));
    expect(message).toEqual({
      token: "fcm-token-of-an-iphone",
      data: { type: "run_task", task_id: "task-1", pingback_url: "https://probes.example.org/p/abc" },
      apns: {
        headers: {
          "apns-push-type": "background",
          "apns-priority": "5",
          "apns-collapse-id": "task-1",
          "apns-expiration": String(Math.floor(clock.now().getTime() / 1000) + 3600),
        },
        payload: { aps: { "content-available": 1 } },
      },
    });
  });

  it("an iOS alert through FCM is a visible alert at priority 10 with the same data keys", async () => {
    const spy = vi.fn<typeof fetch>(async () => Response.json({ name: "m" }));
    await provider(tokens(), spy).send({ probeId: "p2", platform: "ios", token: "t" }, { kind: "alert", message: "hello", pingbackUrl: "https://x/p" });
    const { message } = JSON.parse(String(spy.mock.calls[0][1]!.body));
    expect(message.apns.headers).toMatchObject({ "apns-push-type": "alert", "apns-priority": "10" });
    expect(message.apns.payload).toEqual({ aps: { alert: { body: "hello" } } });
    expect(message.data).toEqual({ type: "alert", pingback_url: "https://x/p" });
    expect(message).not.toHaveProperty("android");
  });

  it("sends no collapse key even when the push has a collapse id (FCM keeps at most four per device and throttles them)", async () => {
    const spy = vi.fn<typeof fetch>(async () => Response.json({ name: "projects/proj/messages/1" }));
    await provider(tokens(), spy).send(target, { ...msg, collapseId: "task-1" });
    const body = JSON.parse(String(spy.mock.calls[0][1]!.body));
    expect(JSON.stringify(body)).not.toContain("collapse");
  });

  it("a 401 mints a fresh access token once and retries", async () => {
    const t = tokens();
    const f = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(new Response("{}", { status: 401 }))
      .mockResolvedValueOnce(Response.json({ name: "m" }));
    expect((await provider(t, f).send(target, msg)).outcome).toBe("sent");
    expect(t.calls).toEqual([false, true]);
  });

  it("refuses a payload over 4 KB before sending anything", async () => {
    const spy = vi.fn<typeof fetch>();
    const r = await provider(tokens(), spy).send(target, { ...msg, data: { blob: "x".repeat(MAX_PUSH_PAYLOAD_BYTES) } });
    expect(r).toMatchObject({ outcome: "rejected", error: expect.stringContaining("4096") });
    expect(spy).not.toHaveBeenCalled();
  });

  it("a timeout or network error is a retry, never a thrown error", async () => {
    const f = vi.fn<typeof fetch>().mockRejectedValue(new DOMException("timed out", "TimeoutError"));
    expect(await provider(tokens(), f).send(target, msg)).toMatchObject({ outcome: "retry", error: "timed out" });
  });
});
