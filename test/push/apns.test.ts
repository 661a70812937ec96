import { decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { fixedClock } from "../../functions/lib/clock";
import { apnsProviderToken, apnsRequest } from "../../functions/push/apns";
import { apnsShouldMint, fcmTokenFresh } from "../../functions/push/credentials";
import type { PushMessage } from "../../functions/push/types";
import { testApnsKey } from "./keys";

const clock = fixedClock("2026-11-24T12:00:00Z");
const nowS = Math.floor(clock.now().getTime() / 1000);
const task: PushMessage = { kind: "task", taskId: "t1", pingbackUrl: "https://probes.example.org/p/x" };

describe("APNs provider token", () => {
  it("is ES256 with kid in the header and iss/iat claims, verifying with the key's public half", async () => {
    const k = await testApnsKey();
    const jwt = await apnsProviderToken(k, nowS);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: "ABC123DEFG" });
    const { payload } = await jwtVerify(jwt, k.publicKey, { currentDate: clock.now() });
    expect(payload).toEqual({ iss: "TEAM123456", iat: nowS });
  });

  it("is reused for 50 minutes, rotated after, and a forced refresh is honoured only after 20 minutes", () => {
    const cached = { token: "t", iat: nowS };
    expect(apnsShouldMint(null, nowS, false)).toBe(true);
    expect(apnsShouldMint(cached, nowS + 49 * 60, false)).toBe(false);
    expect(apnsShouldMint(cached, nowS + 50 * 60, false)).toBe(true);
    expect(apnsShouldMint(cached, nowS + 5 * 60, true)).toBe(false); // would earn TooManyProviderTokenUpdates
    expect(apnsShouldMint(cached, nowS + 21 * 60, true)).toBe(true);
  });

  it("FCM access tokens are refreshed five minutes before they expire", () => {
    const now = clock.now().getTime();
    expect(fcmTokenFresh({ token: "x", expiresAt: now + 10 * 60_000 }, now)).toBe(true);
    expect(fcmTokenFresh({ token: "x", expiresAt: now + 4 * 60_000 }, now)).toBe(false);
    expect(fcmTokenFresh(null, now)).toBe(false);
  });
});

describe("what Apple receives (through FCM's apns block, and as gorush builds it)", () => {
  it("tasks are background pushes: push type background, priority 5, content-available 1, no alert", () => {
    const r = apnsRequest(task);
    expect(r.headers).toEqual({ "apns-push-type": "background", "apns-priority": "5" });
    expect(JSON.parse(r.body)).toEqual({ aps: { "content-available": 1 }, type: "run_task", task_id: "t1", pingback_url: "https://probes.example.org/p/x" });
  });

  it("alerts are visible alerts carrying the message and the pingback URL", () => {
    const r = apnsRequest({ kind: "alert", message: "Censorship event: please test", pingbackUrl: "https://x/p/y" });
    expect(r.headers["apns-push-type"]).toBe("alert");
    expect(JSON.parse(r.body).aps.alert.body).toBe("Censorship event: please test");
  });

  it("every copy of one push carries the same apns-collapse-id, so a repeated push shows as one notification", () => {
    const first = apnsRequest({ ...task, collapseId: "t1", pingbackUrl: "https://probes.example.org/p/first" });
    const again = apnsRequest({ ...task, collapseId: "t1", pingbackUrl: "https://probes.example.org/p/again" });
    expect(first.headers["apns-collapse-id"]).toBe("t1");
    expect(again.headers["apns-collapse-id"]).toBe("t1");
    const alert = apnsRequest({ kind: "alert", message: "m", pingbackUrl: "u", collapseId: "job:1795572769192" });
    expect(alert.headers["apns-collapse-id"]).toBe("job:1795572769192");
  });

  it("leaves out a collapse id Apple would refuse (over 64 bytes) instead of failing the push", () => {
    expect(apnsRequest({ ...task, collapseId: "x".repeat(64) }).headers["apns-collapse-id"]).toBe("x".repeat(64));
    expect(apnsRequest({ ...task, collapseId: "x".repeat(65) }).headers).not.toHaveProperty("apns-collapse-id");
    expect(apnsRequest({ ...task, collapseId: "é".repeat(33) }).headers).not.toHaveProperty("apns-collapse-id"); // 66 bytes
  });
});
