#!/usr/bin/env node
// A fake APNs provider API (`POST /3/device/<token>`) that validates what Apple validates: the ES256 provider token
// (signature against the key's public half, kid, iss = team id, iat at most one hour old, rotated no more than once
// per 20 minutes), apns-topic, apns-push-type (and priority 5 for background pushes), a hex device token, the 4 KB
// payload limit. It records accepted notifications and can inject 429/5xx (with Retry-After) and dead tokens (410).
// Like Apple it speaks HTTP/2 only, over TLS with ALPN h2 (a self-signed certificate made by openssl at start-up;
// clients pass `ca`): a client that does not negotiate h2 (fetch() from Node or from a Worker) gets no answer.
// That is what a Worker meets at api.push.apple.com (test/e2e/push-ios-paths.test.mjs); gorush's Go client speaks h2.
//
// By hand: node tools/fake-apns.mjs --port 9102   (prints the key and the CA certificate to give the fake gorush)
import crypto from "node:crypto";
import http2 from "node:http2";
import { pathToFileURL } from "node:url";
import { argValue, control, Faults, makeTlsCert, publicKeyOf, readBody, sendJson, verifyJwt } from "./fake-common.mjs";

const MAX_PAYLOAD = 4096;
const MIN_ROTATION_S = 20 * 60;

export function makeApnsKey() {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }),
    keyId: crypto.randomBytes(5).toString("hex").toUpperCase(),
    teamId: crypto.randomBytes(5).toString("hex").toUpperCase(),
  };
}

export async function startFakeApns({ port = 0, key = null, topic = "org.openobservatory.ooniprobe" } = {}) {
  const k = key ?? makeApnsKey();
  const publicKey = publicKeyOf(k.key);
  const fake = {
    received: [],
    faults: new Faults(),
    providerTokens: [], // distinct provider tokens seen, with the time first seen
    reset() {
      this.received.length = 0;
      this.providerTokens.length = 0;
      this.faults.reset();
    },
  };
  const tls = makeTlsCert();
  // No allowHTTP1: an HTTP/1.1 client is refused, as Apple refuses it.
  const server = http2.createSecureServer({ key: tls.key, cert: tls.cert, ALPNProtocols: ["h2"] }, async (req, res) => {
    const apnsId = crypto.randomUUID();
    const reply = (status, reason, headers = {}) =>
      sendJson(res, status, reason === undefined ? undefined : { reason, ...(status === 410 ? { timestamp: Date.now() } : {}) }, {
        "apns-id": apnsId,
        ...headers,
      });
    try {
      if (await control(req, res, fake)) return;
      const m = /^\/3\/device\/([^/?]+)$/.exec(new URL(req.url, "http://x").pathname);
      if (req.method !== "POST") return reply(405, "MethodNotAllowed");
      if (!m) return reply(404, "BadPath");
      const auth = /^bearer (.+)$/i.exec(req.headers.authorization ?? "");
      if (!auth) return reply(403, "MissingProviderToken");
      let claims;
      try {
        const { header, payload } = verifyJwt(auth[1], publicKey, "ES256");
        if (header.kid !== k.keyId) throw new Error("kid");
        claims = payload;
      } catch {
        return reply(403, "InvalidProviderToken");
      }
      const now = Math.floor(Date.now() / 1000);
      if (claims.iss !== k.teamId) return reply(403, "InvalidProviderToken");
      if (typeof claims.iat !== "number" || now - claims.iat > 3600) return reply(403, "ExpiredProviderToken");
      if (!fake.providerTokens.some((t) => t.token === auth[1])) {
        const last = fake.providerTokens[fake.providerTokens.length - 1];
        if (last && now - last.firstSeen < MIN_ROTATION_S) return reply(429, "TooManyProviderTokenUpdates");
        fake.providerTokens.push({ token: auth[1], firstSeen: now });
      }
      const t = req.headers["apns-topic"];
      if (!t) return reply(400, "MissingTopic");
      if (t !== topic) return reply(400, "TopicDisallowed");
      const pushType = req.headers["apns-push-type"];
      if (!["alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity", "location", "pushtotalk"].includes(pushType)) {
        return reply(400, "InvalidPushType");
      }
      const priority = req.headers["apns-priority"] ?? "10";
      if (!["1", "5", "10"].includes(priority)) return reply(400, "BadPriority");
      if (pushType === "background" && priority === "10") return reply(400, "BadPriority");
      const collapseId = req.headers["apns-collapse-id"];
      if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return reply(400, "BadCollapseId");
      const device = m[1];
      if (!/^[0-9a-fA-F]{64,200}$/.test(device)) return reply(400, "BadDeviceToken");
      const raw = await readBody(req);
      if (raw.length > MAX_PAYLOAD) return reply(413, "PayloadTooLarge");
      let body;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        return reply(400, "BadPayload");
      }
      if (!body || typeof body.aps !== "object") return reply(400, "PayloadEmpty");
      if (pushType === "background" && (body.aps.alert || body.aps.sound || body.aps.badge !== undefined || body.aps["content-available"] !== 1)) {
        return reply(400, "BadPayload");
      }
      const fault = fake.faults.next();
      if (fault) {
        const reason = fault.reason ?? (fault.status === 429 ? "TooManyRequests" : fault.status === 503 ? "ServiceUnavailable" : "InternalServerError");
        return reply(fault.status, reason, fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {});
      }
      if (fake.faults.dead.has(device)) return reply(410, "Unregistered");
      fake.received.push({
        at: Date.now(),
        httpVersion: req.httpVersion,
        apnsId,
        device,
        pushType,
        priority,
        topic: t,
        collapseId,
        expiration: req.headers["apns-expiration"],
        payload: body,
      });
      reply(200, undefined);
    } catch (e) {
      if (e.tooLarge) return reply(413, "PayloadTooLarge");
      reply(500, "InternalServerError");
    }
  });
  const sessions = new Set();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  /**
   * Connections that did not negotiate h2 (HTTP/1.1 clients). Node holds such a connection without answering, then
   * drops it (unknownProtocolTimeout, 10 s): the client sees what a Worker's fetch() to Apple is reported to do, a hang
   * until its own timeout.
   */
  let refused = 0;
  server.on("unknownProtocol", () => refused++);
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A client that offers only http/1.1 in ALPN fails the TLS handshake (no_application_protocol).
  server.on("tlsClientError", () => refused++);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `https://127.0.0.1:${server.address().port}`;
  return {
    url,
    ca: tls.cert,
    get refusedHttp1() {
      return refused;
    },
    key: k,
    topic,
    received: fake.received,
    get providerTokens() {
      return fake.providerTokens.length;
    },
    inject: (f) => fake.faults.inject(f),
    markDead: (tokens) => fake.faults.markDead(tokens),
    reset: () => fake.reset(),
    stop: () =>
      new Promise((r) => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const f = await startFakeApns({ port: Number(argValue("port", "9102")), topic: argValue("topic", "org.openobservatory.ooniprobe") });
  console.log(`fake APNs listening on ${f.url}`);
  console.log(`fake APNs (HTTP/2 only, TLS) on ${f.url}, topic ${f.topic}, key id ${f.key.keyId}, team ${f.key.teamId}`);
  console.log(`APNs key:\n${f.key.key}\nCA certificate:\n${f.ca}`);
}
