#!/usr/bin/env node
// A fake gorush gateway for end-to-end tests, benchmarks and local development, answering as a real gorush v1.18+
// with its default settings does (appleboy/gorush router/server.go, notify/, config/config.go). No dependencies.
//
// POST /api/push {"notifications":[{notif_id, tokens, platform, message, data, push_type, priority, ...}]}
//   400 {"code":400,"message":"Missing notifications field."} (also for JSON it cannot bind) | "Notifications field is empty."
//       | "Number of notifications(N) over limit(M)"   (core.max_notification, default 100)
//   200 {"counts":N,"logs":[...],"success":"ok"}: counts = tokens (+1 for a topic) of the notifications whose platform
//       is enabled; a notification for a disabled platform is dropped silently (counts 0, success "ok").
//   core.sync false (gorush's default): answers at once with no logs and pushes afterwards. core.sync true: pushes
//       first and returns a failed-push entry for each failure: {notif_id, type, platform, token, message, error}, the
//       token hidden (log.hide_token, default true: its first and last 10 characters starred).
//   Error texts are what gorush logs: APNs reasons (apns2's Reason: "Unregistered", "BadDeviceToken", ...) and, since
//       1.18, FCM HTTP v1 messages through the Firebase SDK ("Requested entity was not found." for a dead token).
// It turns each notification into the request gorush would make: an APNs request as apns2 builds it (apns-push-type
// "alert" unless push_type says otherwise; apns-priority only from priority normal/high) and an FCM v1 message as
// gorush's FCM code builds it. Given `apns` (a running tools/fake-apns.mjs) it sends iOS pushes there over HTTP/2, and
// given `fcm` (tools/fake-fcm.mjs) Android pushes there, so the error texts are the providers' own; otherwise it
// records them and answers dead tokens itself.
// Also GET /healthz, and for tests: GET /_received, POST /_reset, POST /_inject.
//
// By hand:   node tools/fake-gorush.mjs --port 8088 [--sync] [--show-token] [--max-notification 100] [--disable ios]
// In tests:  const gw = await startFakeGorush({ sync: true, apns, fcm }); gw.url; gw.received; gw.injectFailures({...});
import http from "node:http";
import { fileURLToPath } from "node:url";
import { apnsClient, fcmClient, listenLikeAProvider } from "./fake-common.mjs";

const PLATFORM = { 1: "ios", 2: "android", 3: "huawei" };

/** gorush's logx hideToken(token, 10): the first and last 10 characters starred; a short token starred whole. */
export function hideToken(token, mark = 10) {
  if (!token) return "";
  if (token.length < mark * 2) return "*".repeat(token.length);
  return `${"*".repeat(mark)}${token.slice(mark, token.length - mark)}${"*".repeat(mark)}`;
}

/** The APNs request apns2 makes for a gorush notification (notify/notification_apns.go GetIOSNotification). */
export function apnsRequestOf(n) {
  const headers = { "apns-push-type": n.push_type || "alert" };
  if (n.priority === "normal") headers["apns-priority"] = "5";
  if (n.priority === "high") headers["apns-priority"] = "10";
  if (n.expiration) headers["apns-expiration"] = String(n.expiration);
  if (n.collapse_id) headers["apns-collapse-id"] = n.collapse_id;
  if (n.apns_id) headers["apns-id"] = n.apns_id;
  const aps = {};
  if (n.message && !n.title) aps.alert = n.message;
  else if (n.title || n.message) aps.alert = { ...(n.title ? { title: n.title } : {}), ...(n.message ? { body: n.message } : {}) };
  if (n.badge !== undefined) aps.badge = n.badge;
  if (n.sound) aps.sound = n.sound;
  if (n.content_available) aps["content-available"] = 1;
  if (n.mutable_content) aps["mutable-content"] = 1;
  return { topic: n.topic ?? "", headers, payload: { aps, ...(n.data ?? {}) } };
}

/** The FCM HTTP v1 message gorush's FCM code makes for one token (notify/notification_fcm.go GetAndroidNotification). */
export function fcmMessageOf(n, token) {
  let notification = n.notification;
  if (n.title || n.message || n.image) {
    notification = {
      ...(notification ?? {}),
      ...(n.title ? { title: n.title } : {}),
      ...(n.message ? { body: n.message } : {}),
      ...(n.image ? { image: n.image } : {}),
    };
  }
  let apns = n.apns;
  if (n.content_available) apns = { headers: { "apns-priority": "5" }, payload: { aps: { "content-available": 1, ...(n.data ?? {}) } } };
  let android = n.android;
  if (n.priority) android = { ...(android ?? {}), priority: android?.priority || n.priority };
  const data = {};
  for (const [k, v] of Object.entries(n.data ?? {})) data[k] = typeof v === "string" ? v : JSON.stringify(v);
  return {
    token,
    ...(notification !== undefined && notification !== null ? { notification } : {}),
    ...(android ? { android } : {}),
    ...(apns ? { apns } : {}),
    ...(Object.keys(data).length ? { data } : {}),
  };
}

/**
 * Options as gorush's config: sync (core.sync, default false), hideToken (log.hide_token, default true),
 * maxNotification (core.max_notification, 100), platforms enabled (gorush defaults to android only; the fake to both,
 * as the service expects: docs/push.md). `apns`/`fcm`: running fakes to relay to.
 * Failure injection: deadTokens answered as the provider would (error defaults to the platform's dead-token text);
 * status: { code, count, retryAfter } answers the next `count` requests with that status, as a proxy in front would;
 * sequence: [{ status, retryAfter } | { mode: "hang", holdMs } | { mode: "close" }, ...] faults the next requests one
 * each, in order; tokens: { [token]: fault } faults the first request carrying that token once. A faulted request
 * pushes nothing. "hang" holds the request without answering (past the client's timeout) and then drops the
 * connection; "close" drops it as soon as the request is read (mid-request for the client).
 */
export async function startFakeGorush({
  port = 0,
  host = "127.0.0.1",
  maxNotification = 100,
  sync = false,
  hideToken: hide = true,
  platforms = { ios: true, android: true },
  apns = null,
  fcm = null,
  quiet = true,
} = {}) {
  /** Every push gorush made (or would have made), one entry per token: { at, notifId, token, platform, data, message, apns | fcm }. */
  const received = [];
  /** Every request, including refused ones: { at, status, count }. */
  const requests = [];
  const dead = new Map();
  let statusFailures = null;
  /** Faults for the next requests, in order, and for the first request carrying a token. */
  const sequence = [];
  const tokenFaults = new Map();
  const toApns = apns ? apnsClient({ url: apns.url, ca: apns.ca, key: apns.key, topic: apns.topic }) : null;
  const toFcm = fcm ? fcmClient({ url: fcm.url, serviceAccount: fcm.serviceAccount }) : null;
  const log = (...a) => {
    if (!quiet) console.log(new Date().toISOString(), ...a);
  };
  const send = (res, code, body, headers = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const refuse = (res, at, message) => {
    requests.push({ at, status: 400, count: 0 });
    send(res, 400, { code: 400, message });
  };

  /** Push one token; the error text gorush would log, or null. */
  async function pushOne(n, token) {
    const platform = PLATFORM[n.platform];
    const base = { at: Date.now(), notifId: n.notif_id, token, platform, message: n.message ?? "", data: n.data ?? {} };
    if (platform === "ios") {
      const req = apnsRequestOf(n);
      if (dead.has(token)) return dead.get(token) ?? "Unregistered";
      if (toApns) {
        try {
          const r = await toApns.push(token, { ...req.headers, ...(req.topic ? { "apns-topic": req.topic } : {}) }, JSON.stringify(req.payload));
          if (r.status !== 200) return r.reason ?? `HTTP ${r.status}`;
        } catch (e) {
          return String(e?.message ?? e);
        }
      }
      received.push({ ...base, apns: req });
      return null;
    }
    if (platform === "android") {
      const message = fcmMessageOf(n, token);
      if (dead.has(token)) return dead.get(token) ?? "Requested entity was not found.";
      if (toFcm) {
        try {
          const r = await toFcm.send(message);
          if (!r.ok) return r.message;
        } catch (e) {
          return `fcm service send message error: ${String(e?.message ?? e)}`;
        }
      }
      received.push({ ...base, fcm: message });
      return null;
    }
    return null;
  }

  async function deliver(list) {
    const logs = [];
    await Promise.all(
      list.map(async (n) => {
        for (const token of Array.isArray(n.tokens) ? n.tokens : []) {
          const error = await pushOne(n, token);
          if (error === null) continue;
          logs.push({
            ...(n.notif_id ? { notif_id: n.notif_id } : {}),
            type: "failed-push",
            platform: PLATFORM[n.platform] ?? "",
            token: hide ? hideToken(token) : token,
            message: n.message ?? "",
            error,
          });
        }
      }),
    );
    return logs;
  }

  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      const url = new URL(req.url, "http://x");
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { status: "ok" });
      if (req.method === "GET" && url.pathname === "/_received") return send(res, 200, { received, requests });
      if (req.method === "POST" && url.pathname === "/_reset") {
        reset();
        return send(res, 200, { status: "ok" });
      }
      if (req.method === "POST" && url.pathname === "/_inject") {
        try {
          injectFailures(JSON.parse(raw || "{}"));
          return send(res, 200, { status: "ok" });
        } catch (e) {
          return send(res, 400, { message: String(e) });
        }
      }
      if (url.pathname !== "/api/push") return send(res, 404, { code: 404, message: "404 page not found" });
      if (req.method !== "POST") return send(res, 404, { code: 404, message: "404 page not found" });
      const at = Date.now();
      const fault = faultFor(raw);
      if (fault) {
        const tokens = tokensOf(raw);
        if (fault.mode === "close") {
          requests.push({ at, status: 0, count: 0, fault: "close", tokens });
          return req.socket.destroy();
        }
        if (fault.mode === "hang") {
          requests.push({ at, status: 0, count: 0, fault: "hang", tokens });
          const t = setTimeout(() => req.socket.destroy(), fault.holdMs ?? 10_000);
          req.socket.once("close", () => clearTimeout(t));
          return;
        }
        requests.push({ at, status: fault.status, count: 0, fault: String(fault.status), tokens });
        return send(
          res,
          fault.status,
          { message: `injected ${fault.status}` },
          fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {},
        );
      }
      if (statusFailures && statusFailures.count > 0) {
        statusFailures.count--;
        const { code, retryAfter } = statusFailures;
        requests.push({ at, status: code, count: 0 });
        return send(res, code, { message: `injected ${code}` }, retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {});
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return refuse(res, at, "Missing notifications field.");
      }
      const list = body?.notifications;
      if (!Array.isArray(list)) return refuse(res, at, "Missing notifications field.");
      if (list.length === 0) return refuse(res, at, "Notifications field is empty.");
      if (list.length > maxNotification) return refuse(res, at, `Number of notifications(${list.length}) over limit(${maxNotification})`);
      const enabled = list.filter((n) => platforms[PLATFORM[n?.platform]]);
      const counts = enabled.reduce((sum, n) => sum + (Array.isArray(n.tokens) ? n.tokens.length : 0) + (n.topic ? 1 : 0), 0);
      requests.push({ at, status: 200, count: counts });
      if (!sync) {
        send(res, 200, { counts, logs: [], success: "ok" });
        deliver(enabled).then((logs) => log(`async push ${counts} (${logs.length} failed)`));
        return;
      }
      const logs = await deliver(enabled);
      log(`push ${counts} (${logs.length} failed)`);
      send(res, 200, { counts, logs, success: "ok" });
    });
  });

  function tokensOf(raw) {
    try {
      return JSON.parse(raw).notifications.flatMap((n) => (Array.isArray(n.tokens) ? n.tokens : []));
    } catch {
      return [];
    }
  }
  function faultFor(raw) {
    if (tokenFaults.size) {
      for (const t of tokensOf(raw)) {
        const f = tokenFaults.get(t);
        if (f) {
          tokenFaults.delete(t);
          return f;
        }
      }
    }
    return sequence.shift() ?? null;
  }
  function injectFailures({ deadTokens = [], error, status, sequence: next = [], tokens = {} } = {}) {
    for (const t of deadTokens) dead.set(t, error);
    if (status) statusFailures = { code: status.code ?? 503, count: status.count ?? 1, retryAfter: status.retryAfter };
    sequence.push(...next);
    for (const [t, f] of Object.entries(tokens)) tokenFaults.set(t, f);
  }
  function reset() {
    sequence.length = 0;
    tokenFaults.clear();
    received.length = 0;
    requests.length = 0;
    dead.clear();
    statusFailures = null;
  }

  const url = await listenLikeAProvider(server, port, host);
  return {
    url,
    received,
    requests,
    injectFailures,
    reset,
    stop: () =>
      new Promise((resolve) => {
        toApns?.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const disabled = opt("disable", "");
  const gw = await startFakeGorush({
    port: Number(opt("port", 8088)),
    host: opt("host", "127.0.0.1"),
    maxNotification: Number(opt("max-notification", 100)),
    sync: args.includes("--sync"),
    hideToken: !args.includes("--show-token"),
    platforms: { ios: disabled !== "ios", android: disabled !== "android" },
    quiet: args.includes("--quiet"),
  });
  console.log(
    `fake gorush listening on ${gw.url} (POST /api/push; GET /_received; POST /_inject {"deadTokens":[...],"status":{"code":429,"count":2,"retryAfter":5}}; POST /_reset)`,
  );
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => gw.stop().then(() => process.exit(0)));
}
