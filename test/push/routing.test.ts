import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chooseProvider, pushConfigFrom, undeliverable } from "../../functions/push/config";
import { ApiError } from "../../functions/lib/errors";
import { testApnsKey, testServiceAccount } from "./keys";

const fcm = { account: {} as never, baseUrl: "x", ios: false };
const gw = { url: "http://g", authorization: null, iosTopic: "", androidClickAction: "", sync: true };

describe("push routing", () => {
  it("a gorush gateway, when set, carries Android and iOS alike", () => {
    expect(chooseProvider({ gorush: gw, fcm }, "android")).toBe("gorush");
    expect(chooseProvider({ gorush: gw, fcm: null }, "ios")).toBe("gorush");
  });
  it("otherwise Android goes to FCM, and iOS too only when the app registers with Firebase (FCM_IOS)", () => {
    expect(chooseProvider({ gorush: null, fcm }, "android")).toBe("fcm");
    expect(chooseProvider({ gorush: null, fcm }, "IOS")).toBeNull();
    expect(chooseProvider({ gorush: null, fcm: { ...fcm, ios: true } }, "ios")).toBe("fcm");
    expect(chooseProvider({ gorush: null, fcm: null }, "android")).toBeNull();
  });
  it("desktop and other platforms have no push channel: they pull", () => {
    expect(chooseProvider({ gorush: gw, fcm }, "linux")).toBeNull();
    expect(chooseProvider({ gorush: null, fcm }, "miniooni")).toBeNull();
  });
  it("a broken credential disables that provider with a stated reason instead of failing requests", async () => {
    const bad = pushConfigFrom({ ...env, FCM_SERVICE_ACCOUNT: "{not json" });
    expect(bad.fcm).toBeNull();
    expect(bad.gorush?.sync).toBe(true); // the pool's GORUSH_SYNC
    expect(bad.problems.join(" ")).toMatch(/not JSON/);
    // A malformed switch is the deployment's fault, as everywhere (lib/config.ts).
    expect(() => pushConfigFrom({ ...env, GORUSH_SYNC: "maybe" })).toThrow(/GORUSH_SYNC must be "on" or "off"/);
    const good = pushConfigFrom({ ...env, FCM_SERVICE_ACCOUNT: (await testServiceAccount()).json, GORUSH_URL: "http://127.0.0.1:8088/", GORUSH_SYNC: "on" });
    expect(good.fcm?.account.project_id).toBe("edge-orchestra-test");
    expect(good.gorush).toMatchObject({ url: "http://127.0.0.1:8088", sync: true });
    expect(good.timeoutMs).toBe(10_000);
  });
});

describe("a push configuration that cannot deliver is refused", () => {
  it("an APNs key without a gorush gateway is misconfigured (a Worker cannot speak HTTP/2 to Apple), with the way out named", async () => {
    const k = await testApnsKey();
    const direct = { ...env, GORUSH_URL: "", APNS_KEY: k.key, APNS_KEY_ID: k.keyId, APNS_TEAM_ID: k.teamId, APNS_TOPIC: "org.example.probe" };
    expect(undeliverable(direct)).toMatch(/HTTP\/2.*GORUSH_URL.*FCM_IOS=on/);
    let thrown: unknown;
    try {
      pushConfigFrom(direct);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).code).toBe("misconfigured");
    expect(undeliverable({ ...direct, GORUSH_URL: "http://gw" })).toBeNull();
  });
  it("FCM_IOS without a service account is misconfigured; FCM_IOS with one routes iOS to FCM", async () => {
    expect(undeliverable({ GORUSH_URL: "", FCM_IOS: "on" })).toMatch(/FCM_SERVICE_ACCOUNT/);
    const ok = pushConfigFrom({ ...env, GORUSH_URL: "", FCM_IOS: "on", FCM_SERVICE_ACCOUNT: (await testServiceAccount()).json });
    expect(chooseProvider(ok, "ios")).toBe("fcm");
  });
});
