// Shared plumbing of the fake push providers in tools/: body reading, JWT checks, failure injection.
// No dependencies beyond Node itself, so the fakes run anywhere the tests run.
import crypto from "node:crypto";

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
  inject({ status, count = 1, retryAfter, forMs, reason }) {
    this.queue.push({ status, left: forMs ? Infinity : count, until: forMs ? Date.now() + forMs : Infinity, retryAfter, reason });
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

/** The Worker settings that point its direct push providers at a running fake FCM and fake APNs. */
export function directProviderVars(fcm, apns) {
  return {
    FCM_SERVICE_ACCOUNT: JSON.stringify(fcm.serviceAccount),
    FCM_BASE_URL: fcm.url,
    APNS_KEY: apns.key.key,
    APNS_KEY_ID: apns.key.keyId,
    APNS_TEAM_ID: apns.key.teamId,
    APNS_TOPIC: apns.topic,
    APNS_BASE_URL: apns.url,
  };
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
