// Shared plumbing of the fake push providers in tools/: body reading, JWT checks, failure injection.
// No dependencies beyond Node itself, so the fakes run anywhere the tests run.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";

export function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on("data", (c) => {
      n += c.length;
      if (n > limit) {
        reject(Object.assign(new Error("body too large"), { tooLarge: true }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const b64urlJson = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));

/**
 * Verify a compact JWS with node:crypto. alg RS256 or ES256 (raw R||S signature, as JOSE specifies).
 * Returns { header, payload } or throws Error(reason).
 */
export function verifyJwt(jwt, publicKey, alg) {
  const parts = String(jwt).split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS");
  let header;
  let payload;
  try {
    header = b64urlJson(parts[0]);
    payload = b64urlJson(parts[1]);
  } catch {
    throw new Error("undecodable JWT");
  }
  if (header.alg !== alg) throw new Error(`alg must be ${alg}`);
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2], "base64url");
  const ok =
    alg === "RS256" ? crypto.verify("RSA-SHA256", data, publicKey, sig) : crypto.verify("SHA256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, sig);
  if (!ok) throw new Error("bad signature");
  return { header, payload };
}

/** The public half of a PEM key (private or public). */
export function publicKeyOf(pem) {
  return crypto.createPublicKey(pem);
}

/**
 * Failure injection: answer the next `count` requests (or every request until `until`) with `status`,
 * optionally with Retry-After. Dead tokens answer as the provider does for an unregistered device.
 */
export class Faults {
  queue = [];
  dead = new Set();
  /** `mode` "hang" (hold the request without answering for `holdMs`, then drop it) or "close" (drop it at once) instead of a status. */
  inject({ status, count = 1, retryAfter, forMs, reason, mode, holdMs }) {
    this.queue.push({ status, left: forMs ? Infinity : count, until: forMs ? Date.now() + forMs : Infinity, retryAfter, reason, mode, holdMs });
  }
  markDead(tokens) {
    for (const t of tokens) this.dead.add(t);
  }
  /** The fault for this request, if any. */
  next() {
    while (this.queue.length) {
      const f = this.queue[0];
      if (f.left <= 0 || Date.now() > f.until) {
        this.queue.shift();
        continue;
      }
      f.left--;
      return f;
    }
    return null;
  }
  reset() {
    this.queue = [];
    this.dead.clear();
  }
}

export function sendJson(res, status, body, headers = {}) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

/** Control endpoints shared by the fakes, for use by hand: /__fake/received, /__fake/inject, /__fake/dead, /__fake/reset. */
export async function control(req, res, fake) {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname === "/__fake/received") {
    sendJson(res, 200, fake.received);
    return true;
  }
  if (req.method === "POST" && url.pathname === "/__fake/inject") {
    fake.faults.inject(JSON.parse((await readBody(req)).toString() || "{}"));
    sendJson(res, 200, { ok: true });
    return true;
  }
  if (req.method === "POST" && url.pathname === "/__fake/dead") {
    fake.faults.markDead(JSON.parse((await readBody(req)).toString() || "[]"));
    sendJson(res, 200, { ok: true });
    return true;
  }
  if (req.method === "POST" && url.pathname === "/__fake/reset") {
    fake.reset();
    sendJson(res, 200, { ok: true });
    return true;
  }
  return false;
}

export function argValue(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

/**
 * The Worker settings that send pushes straight to a running fake FCM, for Android and for iOS apps registered with
 * Firebase (FCM_IOS). There are no direct APNs settings: a Worker cannot reach APNs (docs/push.md).
 */
export function directProviderVars(fcm) {
  return { FCM_SERVICE_ACCOUNT: JSON.stringify(fcm.serviceAccount), FCM_BASE_URL: fcm.url, FCM_IOS: "on" };
}

/**
 * Listen like a push provider's front end: idle connections stay open a long time (Google's and Apple's keep
 * connections for minutes; Node closes them after 5 s), so a connection is not closed just as the Worker
 * reuses it for the next push, which the Worker would see as "Network connection lost" and retry.
 */
export async function listenLikeAProvider(server, port, host = "127.0.0.1") {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return `http://${host}:${server.address().port}`;
}

/**
 * A throwaway self-signed certificate for 127.0.0.1/localhost, made by openssl at start-up (never committed): Apple's
 * front end is TLS with ALPN h2, so the fake APNs is too. Clients trust it by passing the returned `cert` as their CA.
 */
export function makeTlsCert() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fake-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout",
        path.join(dir, "key.pem"),
        "-out",
        path.join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    return { key: readFileSync(path.join(dir, "key.pem"), "utf8"), cert: readFileSync(path.join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A compact ES256 or RS256 JWS made with node:crypto (the fakes' own clients: fake gorush towards the fake providers). */
export function signJwt(alg, header, payload, pem) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const data = `${b64({ alg, typ: "JWT", ...header })}.${b64(payload)}`;
  const sig =
    alg === "RS256" ? crypto.sign("RSA-SHA256", Buffer.from(data), pem) : crypto.sign("SHA256", Buffer.from(data), { key: pem, dsaEncoding: "ieee-p1363" });
  return `${data}.${sig.toString("base64url")}`;
}

/**
 * An APNs client as gorush's is (apns2 over Go's HTTP/2): TLS with ALPN h2, one session reused, one ES256 provider
 * token per key for up to 50 minutes. `push(device, headers, body)` → { status, reason, apnsId }.
 */
export function apnsClient({ url, ca, key, topic }) {
  let session = null;
  let token = null;
  const providerToken = () => {
    const now = Math.floor(Date.now() / 1000);
    if (!token || now - token.iat > 50 * 60) token = { iat: now, jwt: signJwt("ES256", { kid: key.keyId }, { iss: key.teamId, iat: now }, key.key) };
    return token.jwt;
  };
  const connect = () => {
    if (session && !session.closed && !session.destroyed) return session;
    session = http2.connect(url, { ca, ALPNProtocols: ["h2"] });
    session.on("error", () => {});
    session.unref();
    return session;
  };
  return {
    push(device, headers, body) {
      return new Promise((resolve, reject) => {
        const req = connect().request({
          ":method": "POST",
          ":path": `/3/device/${device}`,
          authorization: `bearer ${providerToken()}`,
          "apns-topic": topic,
          "content-type": "application/json",
          ...headers,
        });
        let status = 0;
        let apnsId = null;
        const chunks = [];
        req.on("response", (h) => {
          status = h[":status"];
          apnsId = h["apns-id"] ?? null;
        });
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let reason = null;
          try {
            reason = text ? JSON.parse(text).reason : null;
          } catch {
            reason = text;
          }
          resolve({ status, reason, apnsId });
        });
        req.on("error", reject);
        req.end(body);
      });
    },
    close: () => session?.close(),
  };
}

/** An FCM HTTP v1 client as the Firebase Admin SDK in gorush is: service-account assertion → access token → messages:send. */
export function fcmClient({ url, serviceAccount }) {
  let access = null;
  const accessToken = async () => {
    if (access && access.until > Date.now()) return access.token;
    const now = Math.floor(Date.now() / 1000);
    const assertion = signJwt(
      "RS256",
      { kid: serviceAccount.private_key_id },
      {
        iss: serviceAccount.client_email,
        sub: serviceAccount.client_email,
        aud: serviceAccount.token_uri,
        scope: "https://www.googleapis.com/auth/firebase.messaging",
        iat: now,
        exp: now + 3600,
      },
      serviceAccount.private_key,
    );
    const r = await fetch(serviceAccount.token_uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    const b = await r.json();
    if (!r.ok) throw new Error(`token exchange: ${JSON.stringify(b)}`);
    access = { token: b.access_token, until: Date.now() + (b.expires_in - 300) * 1000 };
    return access.token;
  };
  return {
    /** → { ok, status, message (FCM's error text, as the Firebase SDK's error string), name }. */
    async send(message) {
      const r = await fetch(`${url}/v1/projects/${serviceAccount.project_id}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${await accessToken()}`, "content-type": "application/json" },
        body: JSON.stringify({ message }),
      });
      const b = await r.json().catch(() => ({}));
      return { ok: r.ok, status: r.status, name: b.name, message: b.error?.message ?? `unexpected http response with status: ${r.status}` };
    },
  };
}
