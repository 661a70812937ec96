#!/usr/bin/env node
// A fake gorush gateway for end-to-end tests, benchmarks and local development. No dependencies.
//
// Implements POST /api/push as gorush documents it (appleboy/gorush README, core.sync: true):
//   {"notifications":[{tokens, platform, message, data, ...}]}
//   400 {"message": "Missing notifications field."} | "Notifications field is empty." | "Number of notifications(N) over limit(M)"
//   200 {"counts": N, "logs": [{type:"failed-push", platform, token, message, error}], "success": "ok"}
// plus GET /healthz, and for tests: GET /_received (what arrived), POST /_reset, POST /_inject (failures).
//
// By hand:   node tools/fake-gorush.mjs --port 8088 [--max-notification 100] [--quiet]
// In tests:  const gw = await startFakeGorush({ port: 0 }); gw.url; gw.received; gw.injectFailures({...}); await gw.stop();
import http from "node:http";
import { fileURLToPath } from "node:url";
import { listenLikeAProvider } from "./fake-common.mjs";

const PLATFORM = { 1: "ios", 2: "android", 3: "huawei" };

/**
 * Failure injection:
 * - deadTokens: tokens answered with a failed-push log entry (error defaults to "Unregistered"), as gorush's sync mode does.
 * - status: { code, count, retryAfter } answers the next `count` requests with that HTTP status (429, 500, 503 ...).
 */
export async function startFakeGorush({ port = 0, host = "127.0.0.1", maxNotification = 100, quiet = true } = {}) {
  /** Every notification accepted, one entry per token: { at, token, platform, message, data, notification }. */
  const received = [];
  /** Every request, including refused ones: { at, status, count }. */
  const requests = [];
  const dead = new Map();
  let statusFailures = null;

  const log = (...a) => {
    if (!quiet) console.log(new Date().toISOString(), ...a);
  };

  const send = (res, code, body, headers = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { status: "ok" });
      if (req.method === "GET" && url.pathname === "/_received") return send(res, 200, { received, requests });
      if (req.method === "POST" && url.pathname === "/_reset") {
        received.length = 0;
        requests.length = 0;
        dead.clear();
        statusFailures = null;
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
      if (url.pathname !== "/api/push") return send(res, 404, { message: "not found" });
      if (req.method !== "POST") return send(res, 405, { message: "method not allowed" });
      const at = Date.now();
      if (statusFailures && statusFailures.count > 0) {
        statusFailures.count--;
        const { code, retryAfter } = statusFailures;
        requests.push({ at, status: code, count: 0 });
        log(`inject ${code}`);
        return send(res, code, { message: `injected ${code}` }, retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {});
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        requests.push({ at, status: 400, count: 0 });
        return send(res, 400, { message: "invalid character in request body" });
      }
      const list = body?.notifications;
      if (list === undefined || list === null) {
        requests.push({ at, status: 400, count: 0 });
        return send(res, 400, { message: "Missing notifications field." });
      }
      if (!Array.isArray(list) || list.length === 0) {
        requests.push({ at, status: 400, count: 0 });
        return send(res, 400, { message: "Notifications field is empty." });
      }
      if (list.length > maxNotification) {
        requests.push({ at, status: 400, count: 0 });
        return send(res, 400, { message: `Number of notifications(${list.length}) over limit(${maxNotification})` });
      }
      const logs = [];
      let counts = 0;
      for (const n of list) {
        for (const token of Array.isArray(n.tokens) ? n.tokens : []) {
          counts++;
          const platform = PLATFORM[n.platform] ?? "unknown";
          if (dead.has(token)) {
            logs.push({ type: "failed-push", platform, token, message: n.message ?? "", error: dead.get(token) });
            continue;
          }
          received.push({ at, token, platform, message: n.message ?? "", data: n.data ?? {}, content_available: !!n.content_available, topic: n.topic ?? "" });
        }
      }
      requests.push({ at, status: 200, count: counts });
      log(`push ${counts} (${logs.length} failed)`);
      send(res, 200, { counts, logs, success: "ok" });
    });
  });

  function injectFailures({ deadTokens = [], error = "Unregistered", status } = {}) {
    for (const t of deadTokens) dead.set(t, error);
    if (status) statusFailures = { code: status.code ?? 503, count: status.count ?? 1, retryAfter: status.retryAfter };
  }

  const url = await listenLikeAProvider(server, port, host);
  return {
    url,
    received,
    requests,
    injectFailures,
    reset() {
      received.length = 0;
      requests.length = 0;
      dead.clear();
      statusFailures = null;
    },
    stop: () =>
      new Promise((resolve) => {
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
  const gw = await startFakeGorush({
    port: Number(opt("port", 8088)),
    host: opt("host", "127.0.0.1"),
    maxNotification: Number(opt("max-notification", 100)),
    quiet: args.includes("--quiet"),
  });
  console.log(
    `fake gorush listening on ${gw.url} (POST /api/push; GET /_received; POST /_inject {"deadTokens":[...],"status":{"code":429,"count":2,"retryAfter":5}}; POST /_reset)`,
  );
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => gw.stop().then(() => process.exit(0)));
}
