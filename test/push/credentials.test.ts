import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { jwtVerify } from "jose";
import { describe, expect, it, vi } from "vitest";
import type { PushCredentials } from "../../durable-objects/push-credentials";
import { fixedClock } from "../../functions/lib/clock";
import { testApnsKey, testServiceAccount } from "./keys";

// No vi.restoreAllMocks() here: these tests pass their own fetchers, and restoring would also undo the campaign
// tests' gateway spy on the shared isolate's fetch (test/campaigns/helpers.ts installGateway).

/** Give the object credentials and a clock for this test (production reads them from secrets). */
function configure(instance: PushCredentials, extra: Partial<Env>, at = "2026-11-24T12:00:00Z") {
  (instance as unknown as { env: Env }).env = { ...env, ...extra };
  instance.clock = fixedClock(at);
}

describe("PushCredentials (one shared token cache)", () => {
  it("mints one FCM access token for many concurrent callers and reuses it until near expiry", async () => {
    const sa = await testServiceAccount();
    const fetchSpy = vi.fn<typeof fetch>(async () => Response.json({ access_token: "ya29.one", expires_in: 3599 }));
    const stub = env.PUSH_CREDENTIALS.getByName("fcm-sharing");
    await runInDurableObject(stub, async (instance: PushCredentials) => {
      configure(instance, { FCM_SERVICE_ACCOUNT: sa.json });
      instance.fetcher = fetchSpy;
      const tokens = await Promise.all(Array.from({ length: 10 }, () => instance.fcmAccessToken()));
      expect(new Set(tokens)).toEqual(new Set(["ya29.one"]));
      expect(fetchSpy).toHaveBeenCalledTimes(1);
      // 50 minutes later: still fresh (expires at 59:59, refreshed 5 minutes before)
      instance.clock = fixedClock("2026-11-24T12:50:00Z");
      expect(await instance.fcmAccessToken()).toBe("ya29.one");
      expect(fetchSpy).toHaveBeenCalledTimes(1);
      fetchSpy.mockImplementation(async () => Response.json({ access_token: "ya29.two", expires_in: 3599 }));
      instance.clock = fixedClock("2026-11-24T12:56:00Z");
      expect(await instance.fcmAccessToken()).toBe("ya29.two");
      expect(fetchSpy).toHaveBeenCalledTimes(2);
      expect((await instance.status()).fcmExpiresAt).toBe(Date.parse("2026-11-24T12:56:00Z") + 3_599_000);
    });
  });

  it("a forced refresh (after FCM said 401) mints a new token", async () => {
    const sa = await testServiceAccount();
    let n = 0;
    const minting = vi.fn<typeof fetch>(async () => Response.json({ access_token: `tok-${++n}`, expires_in: 3599 }));
    await runInDurableObject(env.PUSH_CREDENTIALS.getByName("fcm-force"), async (instance: PushCredentials) => {
      configure(instance, { FCM_SERVICE_ACCOUNT: sa.json });
      instance.fetcher = minting;
      expect(await instance.fcmAccessToken()).toBe("tok-1");
      expect(await instance.fcmAccessToken(true)).toBe("tok-2");
      expect(await instance.fcmAccessToken()).toBe("tok-2");
    });
  });

  it("keeps one APNs provider token for 50 minutes, then rotates, and it verifies with the key", async () => {
    const k = await testApnsKey();
    await runInDurableObject(env.PUSH_CREDENTIALS.getByName("apns"), async (instance: PushCredentials) => {
      const cfg = { APNS_KEY: k.key, APNS_KEY_ID: k.keyId, APNS_TEAM_ID: k.teamId, APNS_TOPIC: "org.example.probe" };
      configure(instance, cfg);
      const first = await instance.apnsProviderToken();
      expect((await jwtVerify(first, k.publicKey, { currentDate: new Date("2026-11-24T12:00:00Z") })).payload.iss).toBe(k.teamId);
      configure(instance, cfg, "2026-11-24T12:30:00Z");
      expect(await instance.apnsProviderToken()).toBe(first);
      expect(await instance.apnsProviderToken(true)).not.toBe(first); // forced, 30 min old: allowed
      configure(instance, cfg, "2026-11-24T12:31:00Z");
      const second = await instance.apnsProviderToken();
      expect(await instance.apnsProviderToken(true)).toBe(second); // forced, 1 min old: refused (Apple's 20-minute rule)
    });
  });

  it("fails clearly when the provider is not configured", async () => {
    await runInDurableObject(env.PUSH_CREDENTIALS.getByName("none"), async (instance: PushCredentials) => {
      configure(instance, {});
      await expect(instance.fcmAccessToken()).rejects.toThrow(/not configured/);
      await expect(instance.apnsProviderToken()).rejects.toThrow(/not configured/);
    });
  });
});
