import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chooseProvider, pushConfigFrom } from "../../functions/push/config";
import { testServiceAccount } from "./keys";

const fcm = { account: {} as never, baseUrl: "x" };
const apns = { key: "k", keyId: "i", teamId: "t", topic: "o", baseUrl: "x" };
const gw = { url: "http://g", authorization: null, iosTopic: "", androidClickAction: "" };

describe("push routing", () => {
  it("a gorush gateway, when set, carries Android and iOS alike", () => {
    expect(chooseProvider({ gorush: gw, fcm, apns }, "android")).toBe("gorush");
    expect(chooseProvider({ gorush: gw, fcm: null, apns: null }, "ios")).toBe("gorush");
  });
  it("otherwise Android goes to FCM and iOS to APNs when configured", () => {
    expect(chooseProvider({ gorush: null, fcm, apns }, "android")).toBe("fcm");
    expect(chooseProvider({ gorush: null, fcm, apns }, "IOS")).toBe("apns");
    expect(chooseProvider({ gorush: null, fcm: null, apns }, "android")).toBeNull();
    expect(chooseProvider({ gorush: null, fcm, apns: null }, "ios")).toBeNull();
  });
  it("desktop and other platforms have no push channel: they pull", () => {
    expect(chooseProvider({ gorush: gw, fcm, apns }, "linux")).toBeNull();
    expect(chooseProvider({ gorush: null, fcm, apns }, "miniooni")).toBeNull();
  });
  it("a broken credential disables that provider with a stated reason instead of failing requests", async () => {
    const bad = pushConfigFrom({ ...env, FCM_SERVICE_ACCOUNT: "{not json", APNS_KEY: "k" });
    expect(bad.fcm).toBeNull();
    expect(bad.apns).toBeNull();
    expect(bad.problems.join(" ")).toMatch(/not JSON.*APNS_KEY_ID/);
    const good = pushConfigFrom({ ...env, FCM_SERVICE_ACCOUNT: (await testServiceAccount()).json, GORUSH_URL: "http://127.0.0.1:8088/" });
    expect(good.fcm?.account.project_id).toBe("edge-orchestra-test");
    expect(good.gorush?.url).toBe("http://127.0.0.1:8088");
    expect(good.timeoutMs).toBe(10_000);
  });
});
