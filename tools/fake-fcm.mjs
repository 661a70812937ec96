#!/usr/bin/env node
// A fake of Google's OAuth2 token endpoint and FCM HTTP v1 `messages:send`, validating what the real ones validate:
// the RS256 service-account assertion (signature against the key's public half, iss, aud = token endpoint, scope,
// lifetime), Bearer access tokens, one target per message, string-only data, an apns block APNs would take (string
// headers; a background push at priority 5 with content-available and no alert), the 4 KB payload limit. It records
// every accepted message and can inject 429/5xx (with Retry-After), held requests ("hang") and dropped connections
// ("close"), and dead tokens (404 UNREGISTERED).
//
// By hand: node tools/fake-fcm.mjs --port 9101 --key service-account.json
//   (prints the service-account JSON to use as FCM_SERVICE_ACCOUNT when --key is omitted: it makes one)
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { pathToFileURL } from "node:url";
import { argValue, control, Faults, listenLikeAProvider, publicKeyOf, readBody, sendJson, verifyJwt } from "./fake-common.mjs";

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const MAX_PAYLOAD = 4096;

/** A throwaway service account whose token_uri points at this fake. */
export function makeServiceAccount(baseUrl, projectId = "edge-orchestra-dev") {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    type: "service_account",
    project_id: projectId,
    private_key_id: crypto.randomBytes(8).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: `push@${projectId}.iam.gserviceaccount.com`,
    client_id: "1",
    token_uri: `${baseUrl}/token`,
  };
}

export async function startFakeFcm({ port = 0, serviceAccount = null, projectId = "edge-orchestra-dev" } = {}) {
  const fake = {
    received: [],
    /** Sends answered with an injected fault instead: { at, fault: "hang" | "close" | status, token }. */
    faulted: [],
    tokenRequests: 0,
    faults: new Faults(),
    accessTokens: new Map(),
    account: serviceAccount,
    reset() {
      this.received.length = 0;
      this.faulted.length = 0;
      this.tokenRequests = 0;
      this.faults.reset();
    },
  };
  const server = http.createServer(async (req, res) => {
    try {
      if (await control(req, res, fake)) return;
      const url = new URL(req.url, "http://x");
      if (req.method === "POST" && url.pathname === "/token") return await token(req, res, url);
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(url.pathname);
      if (req.method === "POST" && m) return await send(req, res, decodeURIComponent(m[1]));
      sendJson(res, 404, { error: { code: 404, message: "not found", status: "NOT_FOUND" } });
    } catch (e) {
      if (e.tooLarge) return sendJson(res, 413, { error: { code: 413, status: "INVALID_ARGUMENT", message: "request too large" } });
      sendJson(res, 500, { error: { code: 500, status: "INTERNAL", message: String(e) } });
    }
  });

  async function token(req, res, url) {
    fake.tokenRequests++;
    const form = new URLSearchParams((await readBody(req)).toString());
    const bad = (d) => sendJson(res, 400, { error: "invalid_grant", error_description: d });
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return bad("unsupported grant_type");
    let claims;
    try {
      const { header, payload } = verifyJwt(form.get("assertion"), publicKeyOf(fake.account.private_key), "RS256");
      if (header.kid && header.kid !== fake.account.private_key_id) throw new Error("unknown kid");
      claims = payload;
    } catch (e) {
      return bad(`Invalid JWT Signature: ${e.message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== fake.account.client_email) return bad("iss is not the service account");
    if (claims.aud !== `${baseUrl}${url.pathname}` && claims.aud !== fake.account.token_uri) return bad("aud is not the token endpoint");
    if (
      !String(claims.scope ?? "")
        .split(" ")
        .includes(SCOPE)
    )
      return bad("scope lacks firebase.messaging");
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number") return bad("iat/exp missing");
    if (claims.exp - claims.iat > 3600) return bad("assertion lifetime over 1 hour");
    if (claims.exp < now || claims.iat > now + 300) return bad("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe");
    const access = `ya29.fake-${crypto.randomBytes(12).toString("hex")}`;
    fake.accessTokens.set(access, Date.now() + 3599_000);
    sendJson(res, 200, { access_token: access, expires_in: 3599, token_type: "Bearer" });
  }

  async function send(req, res, project) {
    const fcmError = (status, code, message, errorCode) =>
      sendJson(res, status, {
        error: {
          code: status,
          message,
          status: code,
          ...(errorCode ? { details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }] } : {}),
        },
      });
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const exp = auth && fake.accessTokens.get(auth[1]);
    if (!exp || exp < Date.now()) return fcmError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    if (project !== fake.account.project_id) return fcmError(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH");
    const raw = await readBody(req);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      return fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    }
    const msg = body?.message;
    if (!msg || typeof msg !== "object") return fcmError(400, "INVALID_ARGUMENT", "message is required");
    const targets = ["token", "topic", "condition"].filter((k) => msg[k] !== undefined);
    if (targets.length !== 1) return fcmError(400, "INVALID_ARGUMENT", "exactly one of token, topic or condition is required");
    for (const [k, v] of Object.entries(msg.data ?? {})) {
      if (typeof v !== "string") return fcmError(400, "INVALID_ARGUMENT", `Invalid value at 'message.data[${k}]': not a string`);
    }
    // The apns block is handed to Apple as it is (headers and aps): refuse what APNs would refuse for it.
    if (msg.apns !== undefined) {
      const h = msg.apns.headers ?? {};
      if (Object.values(h).some((v) => typeof v !== "string"))
        return fcmError(400, "INVALID_ARGUMENT", "Invalid value at 'message.apns.headers': not a string");
      const aps = msg.apns.payload?.aps;
      if (h["apns-push-type"] === "background" && (h["apns-priority"] === "10" || aps?.["content-available"] !== 1 || aps?.alert || aps?.sound)) {
        return fcmError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT");
      }
    }
    const payloadBytes = Buffer.byteLength(JSON.stringify({ data: msg.data ?? {}, notification: msg.notification ?? {}, apns: msg.apns?.payload ?? {} }));
    if (payloadBytes > MAX_PAYLOAD) return fcmError(400, "INVALID_ARGUMENT", "Message is too big", "INVALID_ARGUMENT");
    const fault = fake.faults.next();
    if (fault?.mode === "close") {
      fake.faulted.push({ at: Date.now(), fault: "close", token: msg.token });
      return req.socket.destroy();
    }
    if (fault?.mode === "hang") {
      fake.faulted.push({ at: Date.now(), fault: "hang", token: msg.token });
      const t = setTimeout(() => req.socket.destroy(), fault.holdMs ?? 10_000);
      req.socket.once("close", () => clearTimeout(t));
      return;
    }
    if (fault) {
      fake.faulted.push({ at: Date.now(), fault: String(fault.status), token: msg.token, retryAfter: fault.retryAfter });
      const code = fault.status === 429 ? "RESOURCE_EXHAUSTED" : fault.status >= 500 ? "UNAVAILABLE" : "INVALID_ARGUMENT";
      const errorCode = fault.status === 429 ? "QUOTA_EXCEEDED" : fault.status >= 500 ? "UNAVAILABLE" : undefined;
      return sendJson(
        res,
        fault.status,
        { error: { code: fault.status, status: code, message: fault.reason ?? "injected", details: errorCode ? [{ errorCode }] : [] } },
        fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {},
      );
    }
    if (msg.token && fake.faults.dead.has(msg.token)) {
      return fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED");
    }
    const id = `projects/${project}/messages/0:${Date.now()}%${crypto.randomBytes(6).toString("hex")}`;
    fake.received.push({ at: Date.now(), name: id, message: msg });
    sendJson(res, 200, { name: id });
  }

  const baseUrl = await listenLikeAProvider(server, port);
  fake.account ??= makeServiceAccount(baseUrl, projectId);
  return {
    url: baseUrl,
    serviceAccount: fake.account,
    received: fake.received,
    faulted: fake.faulted,
    get tokenRequests() {
      return fake.tokenRequests;
    },
    inject: (f) => fake.faults.inject(f),
    markDead: (tokens) => fake.faults.markDead(tokens),
    reset: () => fake.reset(),
    stop: () => new Promise((r) => server.close(r)),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const keyFile = argValue("key");
  const f = await startFakeFcm({
    port: Number(argValue("port", "9101")),
    serviceAccount: keyFile ? JSON.parse(readFileSync(keyFile, "utf8")) : null,
  });
  console.log(`fake FCM listening on ${f.url}`);
  console.log(`set FCM_BASE_URL=${f.url} and FCM_SERVICE_ACCOUNT to:\n${JSON.stringify(f.serviceAccount)}`);
}
