import { describe, expect, it } from "vitest";
import { backoffMs, decide } from "../../functions/campaigns/dispatch";
import { newPace, schedule } from "../../functions/push/pace";
import { normalizeTarget, probeMatches } from "../../functions/campaigns/targeting";
import { GorushProvider, gorushBody, retryAfterMs } from "../../functions/push/gorush";
import type { PushMessage, PushTarget } from "../../functions/push/types";

const android: PushTarget = { probeId: "p1", platform: "android", token: "fcm-token" };
const ios: PushTarget = { probeId: "p2", platform: "ios", token: "apns-hex" };
const task: PushMessage = { kind: "task", taskId: "t-1", pingbackUrl: "https://probes.example.org/api/v1/pingback/x.y.z" };
let fetcher: typeof fetch;
const provider = (over = {}) =>
  new GorushProvider({ url: "https://gw.example", iosTopic: "org.openobservatory.ooniprobe", androidClickAction: "OPEN", timeoutMs: 500, fetcher, ...over });

/** The gateway's next answers; returns what it was sent. */
function gateway(...replies: (Response | Error)[]) {
  const seen: { url: string; init: RequestInit & { headers: Record<string, string> } }[] = [];
  fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push({ url: String(input), init: init as any });
    const r = replies[Math.min(seen.length - 1, replies.length - 1)];
    if (r instanceof Error) throw r;
    return r;
  }) as typeof fetch;
  return seen;
}

describe("gorush request (OONI Orchestra's payload)", () => {
  it("task push: silent, data {type: run_task, payload: {task_id, pingback_url}}, platform 2 for android", () => {
    expect(gorushBody(android, task, { androidClickAction: "OPEN" })).toEqual({
      notifications: [
        {
          tokens: ["fcm-token"],
          platform: 2,
          message: "",
          topic: "",
          to: "",
          data: { type: "run_task", payload: { task_id: "t-1", pingback_url: task.pingbackUrl } },
          content_available: true,
          notification: { click_action: "OPEN" },
        },
      ],
    });
  });

  it("alert push to iOS: platform 1, the topic, the message, open_href when extra has href", () => {
    const body = gorushBody(ios, { kind: "alert", pingbackUrl: "u", message: "hello", data: { href: "https://x" } }, { iosTopic: "topic" });
    expect(body.notifications[0]).toMatchObject({
      platform: 1,
      topic: "topic",
      message: "hello",
      content_available: false,
      data: { type: "open_href", payload: { href: "https://x", pingback_url: "u" } },
    });
    expect(gorushBody(ios, { kind: "alert", pingbackUrl: "u", message: "m" }, {}).notifications[0].data.type).toBe("default");
  });

  it("gives iOS pushes gorush's collapse_id and Android pushes no collapse key (FCM keeps at most four per device)", () => {
    const m: PushMessage = { ...task, collapseId: "t-1" };
    expect(gorushBody(ios, m, { iosTopic: "topic" }).notifications[0]).toMatchObject({ platform: 1, collapse_id: "t-1" });
    const a = gorushBody(android, m, {}).notifications[0];
    expect(a).not.toHaveProperty("collapse_id");
    expect(a).not.toHaveProperty("collapse_key");
  });

  it("posts to {GORUSH_URL}/api/push with JSON, the optional Authorization header and a timeout signal", async () => {
    const seen = gateway(Response.json({ counts: 1, logs: [], success: "ok" }));
    expect(await provider({ authorization: "Basic dTpw" }).send(android, task)).toEqual({ outcome: "sent", provider: "gorush", status: 200 });
    expect(seen[0].url).toBe("https://gw.example/api/push");
    expect(seen[0].init.method).toBe("POST");
    expect(seen[0].init.headers).toMatchObject({ "content-type": "application/json", authorization: "Basic dTpw" });
    expect(seen[0].init.signal).toBeInstanceOf(AbortSignal);
  });
});

describe("gorush answers → PushResult", () => {
  it.each(["Unregistered", "BadDeviceToken", "NotRegistered", "InvalidRegistration"])("sync-mode log error %s → token-expired", async (error) => {
    gateway(Response.json({ counts: 1, logs: [{ type: "failed-push", platform: "android", token: "fcm-token", message: "x", error }], success: "ok" }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "token-expired", error });
  });

  it("429 and 5xx → retry, with Retry-After in seconds or as an HTTP date", async () => {
    gateway(new Response("busy", { status: 429, headers: { "Retry-After": "30" } }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry", status: 429, retryAfterMs: 30_000 });
    gateway(new Response("down", { status: 503 }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry", status: 503, retryAfterMs: undefined });
    expect(retryAfterMs(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8_000);
    expect(retryAfterMs("soon")).toBeUndefined();
  });

  it("network failure and timeout → retry (status 0)", async () => {
    gateway(new TypeError("connection refused"));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry", status: 0 });
  });

  it("400 from the gateway (bad payload) → rejected; transient per-token errors → retry; other per-token errors → rejected", async () => {
    gateway(Response.json({ message: "Notifications field is empty." }, { status: 400 }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "rejected", status: 400 });
    gateway(Response.json({ counts: 1, logs: [{ type: "failed-push", token: "fcm-token", error: "TooManyRequests" }], success: "ok" }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry" });
    gateway(Response.json({ counts: 1, logs: [{ type: "failed-push", token: "fcm-token", error: "PayloadTooLarge" }], success: "ok" }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "rejected" });
  });

  it("a 200 that is not gorush's answer is retried, not trusted", async () => {
    gateway(new Response("<html>proxy</html>", { status: 200 }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry" });
  });
});

describe("dispatch decisions (provider-agnostic)", () => {
  const now = 1_000_000;
  it("retry honours Retry-After, otherwise exponential backoff with jitter, and gives up at max attempts", () => {
    expect(decide({ outcome: "retry", provider: "gorush", status: 429, error: "", retryAfterMs: 90_000 }, 1, 6, now, 0.3)).toEqual({
      action: "retry",
      atMs: now + 90_000,
    });
    expect(decide({ outcome: "retry", provider: "gorush", status: 503, error: "" }, 3, 6, now, 1)).toEqual({ action: "retry", atMs: now + 8_000 });
    expect(decide({ outcome: "retry", provider: "gorush", status: 503, error: "x" }, 6, 6, now, 1)).toMatchObject({ action: "failed" });
    expect(decide({ outcome: "token-expired", provider: "gorush", status: 200, error: "Unregistered" }, 1, 6, now, 0)).toEqual({ action: "token-expired" });
    expect(decide({ outcome: "rejected", provider: "gorush", status: 400, error: "bad" }, 1, 6, now, 0)).toEqual({ action: "failed", reason: "bad" });
  });
  it("backoff doubles and is capped at 15 minutes", () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(a, 1))).toEqual([2000, 4000, 8000, 16000]);
    expect(backoffMs(30, 1)).toBe(15 * 60_000);
    expect(backoffMs(1, 0)).toBe(1000);
  });
  it("a rollout rate places each probe's push on its slot (probe 250 at 100/min goes out at 2.5 min)", () => {
    const { times } = schedule(newPace(100, 0), 251, 0);
    expect(times[0]).toBe(0);
    expect(times[250]).toBe(150_000);
    expect(schedule(newPace(null, 0), 5, 0).times).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("targeting (pure)", () => {
  const p = {
    probeCc: "IT",
    platform: "android",
    probeAsn: "AS1",
    networkType: "wifi",
    softwareName: "ooniprobe-android",
    supportedTests: '["web_connectivity","ndt"]',
  };
  it("empty lists and 'any' mean all; lists AND together; the task's own test is required", () => {
    expect(normalizeTarget({ countries: ["any", "IT"], platforms: ["Android"] })).toMatchObject({ countries: [], platforms: ["android"] });
    expect(probeMatches(p, normalizeTarget({}), null)).toBe(true);
    expect(probeMatches(p, normalizeTarget({ countries: ["IT", "GR"], asns: ["AS1"] }), "web_connectivity")).toBe(true);
    expect(probeMatches(p, normalizeTarget({ countries: ["GR"] }), null)).toBe(false);
    expect(probeMatches(p, normalizeTarget({}), "whatsapp")).toBe(false);
    expect(probeMatches(p, normalizeTarget({ supported_tests: ["ndt", "dash"] }), null)).toBe(false);
    expect(probeMatches({ ...p, networkType: null }, normalizeTarget({ network_types: ["wifi"] }), null)).toBe(false);
  });
});
