import { describe, expect, it } from "vitest";
import { backoffMs, decide } from "../../functions/campaigns/dispatch";
import { newPace, schedule } from "../../functions/push/pace";
import { normalizeTarget, probeMatches } from "../../functions/campaigns/targeting";
import { fixedClock } from "../../functions/lib/clock";
import { GorushProvider, gorushBody, mapGorushAnswer, mapGorushBatch, retryAfterMs } from "../../functions/push/gorush";
import type { PushMessage, PushTarget } from "../../functions/push/types";

const android: PushTarget = { probeId: "p1", platform: "android", token: "fcm-token" };
const ios: PushTarget = { probeId: "p2", platform: "ios", token: "apns-hex" };
const task: PushMessage = { kind: "task", taskId: "t-1", pingbackUrl: "https://probes.example.org/api/v1/pingback/x.y.z" };
let fetcher: typeof fetch;
const provider = (over = {}) =>
  new GorushProvider({
    url: "https://gw.example",
    iosTopic: "org.openobservatory.ooniprobe",
    androidClickAction: "OPEN",
    sync: true,
    timeoutMs: 500,
    clock,
    fetcher,
    ...over,
  });

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

const NOW = Date.parse("2026-11-24T12:00:00Z");
const clock = fixedClock("2026-11-24T12:00:00Z");
const payload = { type: "run_task", task_id: "t-1", pingback_url: task.pingbackUrl };

describe("gorush request: the one payload, as gorush turns it into an APNs request or an FCM v1 message", () => {
  it("an iOS task is a silent background push: push_type background, priority normal, content_available, no message, an hour's expiration", () => {
    const n = gorushBody(ios, { ...task, collapseId: "t-1" }, { iosTopic: "org.openobservatory.ooniprobe" }, NOW, "t-1").notifications[0];
    expect(n).toEqual({
      notif_id: "t-1",
      tokens: ["apns-hex"],
      platform: 1,
      topic: "org.openobservatory.ooniprobe",
      push_type: "background",
      priority: "normal",
      content_available: true,
      expiration: NOW / 1000 + 3600,
      collapse_id: "t-1",
      data: payload,
    });
  });

  it("an Android task is a high-priority data message with an hour's ttl, no notification object and no click action", () => {
    const n = gorushBody(android, task, { androidClickAction: "OPEN" }, NOW, "t-1").notifications[0];
    expect(n).toEqual({ notif_id: "t-1", tokens: ["fcm-token"], platform: 2, priority: "high", android: { ttl: "3600s" }, data: payload });
  });

  it("alerts carry their text; on Android the click action goes where FCM v1 reads it (android.notification.click_action)", () => {
    const alert: PushMessage = { kind: "alert", pingbackUrl: "u", message: "hello", data: { href: "https://x" }, collapseId: "job:1" };
    const a = gorushBody(android, alert, { androidClickAction: "OPEN" }, NOW, "n1").notifications[0];
    expect(a).toMatchObject({ message: "hello", priority: "normal", android: { ttl: "3600s", notification: { click_action: "OPEN" } } });
    expect(a).not.toHaveProperty("notification");
    expect(a).not.toHaveProperty("collapse_id");
    const i = gorushBody(ios, alert, { iosTopic: "topic" }, NOW, "n1").notifications[0];
    expect(i).toMatchObject({ push_type: "alert", priority: "high", message: "hello", collapse_id: "job:1" });
    expect(i).not.toHaveProperty("content_available");
    expect(i.data).toEqual({ href: "https://x", type: "alert", pingback_url: "u" });
  });

  it("posts to {GORUSH_URL}/api/push with JSON, the optional Authorization header and a timeout signal", async () => {
    const seen = gateway(Response.json({ counts: 1, logs: [], success: "ok" }));
    expect(await provider({ authorization: "Basic dTpw" }).send(android, task)).toEqual({ outcome: "sent", provider: "gorush", status: 200 });
    expect(seen[0].url).toBe("https://gw.example/api/push");
    expect(seen[0].init.method).toBe("POST");
    expect(seen[0].init.headers).toMatchObject({ "content-type": "application/json", authorization: "Basic dTpw" });
    expect(seen[0].init.signal).toBeInstanceOf(AbortSignal);
    expect(JSON.parse(String(seen[0].init.body)).notifications[0].notif_id).toBe("t-1");
  });
});

/** A failed-push log entry as a default gorush writes it: the token hidden (log.hide_token), our notif_id. */
const failed = (error: string, platform = "android") => ({
  notif_id: "t-1",
  type: "failed-push",
  platform,
  token: "**********a1b2c3**********",
  message: "",
  error,
});

describe("gorush answers → PushResult", () => {
  it.each([
    ["android", "Requested entity was not found."],
    ["android", "The registration token is not a valid FCM registration token"],
    ["ios", "Unregistered"],
    ["ios", "BadDeviceToken"],
    ["ios", "DeviceTokenNotForTopic"],
    ["android", "NotRegistered"],
  ])("a %s failed-push %s, token hidden, marks the token expired", async (platform, error) => {
    gateway(Response.json({ counts: 1, logs: [failed(error, platform)], success: "ok" }));
    expect(await provider().send(platform === "ios" ? ios : android, task)).toMatchObject({ outcome: "token-expired", error });
  });

  it("without core.sync there are no logs: the push is accepted by the gateway, never counted as sent", () => {
    expect(mapGorushAnswer({ counts: 1, logs: [], success: "ok" }, "t-1", false, "android")).toMatchObject({ outcome: "accepted" });
    expect(mapGorushAnswer({ counts: 1, logs: [], success: "ok" }, "t-1", true, "android")).toMatchObject({ outcome: "sent" });
  });

  it("counts 0 with success ok (the platform is disabled in gorush) is not a delivery", () => {
    expect(mapGorushAnswer({ counts: 0, logs: [], success: "ok" }, "t-1", true, "ios")).toMatchObject({
      outcome: "rejected",
      error: expect.stringContaining("ios enabled"),
    });
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
    gateway(Response.json({ code: 400, message: "Notifications field is empty." }, { status: 400 }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "rejected", status: 400 });
    for (const e of ["TooManyRequests", "The service is currently unavailable.", "Quota exceeded for quota metric 'Messages'", "max capacity reached"]) {
      gateway(Response.json({ counts: 1, logs: [failed(e)], success: "ok" }));
      expect(await provider().send(android, task)).toMatchObject({ outcome: "retry", error: e });
    }
    for (const e of ["PayloadTooLarge", "SenderId mismatch"]) {
      gateway(Response.json({ counts: 1, logs: [failed(e)], success: "ok" }));
      expect(await provider().send(android, task)).toMatchObject({ outcome: "rejected", error: e });
    }
  });

  it("a 200 that is not gorush's answer is retried, not trusted", async () => {
    gateway(new Response("<html>proxy</html>", { status: 200 }));
    expect(await provider().send(android, task)).toMatchObject({ outcome: "retry" });
    gateway(Response.json({ hello: "world" }));
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

describe("gorush batches: up to GORUSH_BATCH notifications per request, each failure attributed by its notif_id", () => {
  const targets = (n: number, platform: string) => Array.from({ length: n }, (_, i) => ({ probeId: `p${i}`, platform, token: `${platform}-tok-${i}` }));
  const msgs = (n: number) => Array.from({ length: n }, (_, i): PushMessage => ({ kind: "task", taskId: `task-${i}`, pingbackUrl: task.pingbackUrl }));

  it("250 pushes over two platforms become requests of at most 100, one platform each, one token and notif_id per notification", async () => {
    const seen = gateway(...[1, 2, 3].map(() => Response.json({ counts: 100, logs: [], success: "ok" })));
    const ts = [...targets(150, "android"), ...targets(100, "ios")];
    const ms = msgs(250);
    const results = await provider({ batch: 100 }).sendMany(
      ts.map((target, i) => ({ target, message: ms[i] })),
      { connections: 4 },
    );
    const bodies = seen.map((s) => JSON.parse(String(s.init.body)).notifications as any[]);
    expect(bodies.map((b) => b.length).sort((a, b) => a - b)).toEqual([50, 100, 100]);
    for (const b of bodies) {
      expect(new Set(b.map((n: any) => n.platform)).size).toBe(1);
      for (const n of b) expect(n.tokens).toHaveLength(1);
    }
    expect(
      bodies
        .flat()
        .map((n: any) => n.notif_id)
        .sort(),
    ).toEqual(ms.map((m) => m.taskId).sort());
    expect(results.every((r) => r?.outcome === "sent")).toBe(true);
  });

  it("a failed-push entry is matched by notif_id (tokens are starred): only that push fails, the rest are sent", async () => {
    gateway(
      Response.json({
        counts: 3,
        success: "ok",
        logs: [{ notif_id: "task-1", type: "failed-push", platform: "android", token: "**********k-1", error: "Requested entity was not found." }],
      }),
    );
    const ts = targets(3, "android");
    const ms = msgs(3);
    const r = await provider().sendMany(
      ts.map((target, i) => ({ target, message: ms[i] })),
      { connections: 1 },
    );
    expect(r.map((x) => x?.outcome)).toEqual(["sent", "token-expired", "sent"]);
  });

  it("a failure without notif_id in a batch cannot be attributed: every push of that request is retried, none marked dead", () => {
    const r = mapGorushBatch({ counts: 2, success: "ok", logs: [{ type: "failed-push", token: "****", error: "Unregistered" }] }, ["a", "b"], true, "ios");
    expect(r.map((x) => x.outcome)).toEqual(["retry", "retry"]);
    // Alone in its request, the entry is that push's own, as before.
    expect(mapGorushBatch({ counts: 1, success: "ok", logs: [{ type: "failed-push", error: "Unregistered" }] }, ["a"], true, "ios")[0].outcome).toBe(
      "token-expired",
    );
  });

  it("a 429 for a batch retries each of its pushes with the gateway's Retry-After; a request refused by beforeRequest is not made", async () => {
    const seen = gateway(...[1, 2, 3].map(() => new Response("slow", { status: 429, headers: { "retry-after": "7" } })));
    const ts = targets(4, "android");
    const ms = msgs(4);
    const items = ts.map((target, i) => ({ target, message: ms[i] }));
    const r = await provider({ batch: 2 }).sendMany(items, { connections: 1 });
    expect(r.map((x) => x?.outcome)).toEqual(["retry", "retry", "retry", "retry"]);
    expect(r.every((x) => x?.outcome === "retry" && x.retryAfterMs === 7000)).toBe(true);
    let allowed = 1;
    const skipped = await provider({ batch: 2 }).sendMany(items, { connections: 1, beforeRequest: () => allowed-- > 0 });
    expect(skipped.filter((x) => x === null)).toHaveLength(2);
    expect(seen).toHaveLength(3);
  });
});
