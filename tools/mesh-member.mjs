#!/usr/bin/env node
// A mesh member (Ifrit's client, over the group's WebSocket): library and CLI. docs/mesh.md "Membership".
//
//   node tools/mesh-member.mjs enrol   --base http://127.0.0.1:8787 --group demo --rpc 127.0.0.1:8300 --ping 127.0.0.1:8301 --out m.json [--token T] [--curve P-256|P-521]
//   node tools/mesh-member.mjs enrol   --base ... --group demo --csr req.der|req.pem --key key.pem --out m.json [--token T]
//                                      enrol with a request made elsewhere (OpenSSL, Go) and the key it was made with
//                                      (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY" PEM)
//   node tools/mesh-member.mjs connect --identity m.json          stay online: answer pings, echo messages and gossip, print the view
//   node tools/mesh-member.mjs members --identity m.json          Members(): the live view (signed HTTP request)
//   node tools/mesh-member.mjs send    --identity m.json --to <id> --data text    SendToId over HTTP; prints the reply
//   node tools/mesh-member.mjs gossip  --identity m.json --data text              set gossip content, print responses
//
// As a library: `const m = await MeshMember.load("m.json"); m.onMessage((bytes, from) => reply); await m.connect();`
import { readFile, writeFile } from "node:fs/promises";
import { createPrivateKey, createPublicKey, webcrypto as crypto } from "node:crypto";
import WebSocket from "ws";

const enc = new TextEncoder();
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const unb64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const hex = (bytes) => Buffer.from(bytes).toString("hex");

/** JCS of a flat object (sorted keys): what notes, accusations, challenges, pongs and requests are signed over. */
function canonical(obj) {
  return enc.encode(
    `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`)
      .join(",")}}`,
  );
}
export const content = {
  note: (group, n) => canonical({ type: "mesh-note", group, id: n.id, epoch: n.epoch, mask: n.mask }),
  accusation: (group, a) => canonical({ type: "mesh-accusation", group, accused: a.accused, accuser: a.accuser, epoch: a.epoch, ring: a.ring }),
  challenge: (group, id, nonce) => canonical({ type: "mesh-connect", group, id, nonce }),
  pong: (group, nonce) => canonical({ type: "mesh-pong", group, nonce }),
  request: (group, method, path, ts, bodyHash) => canonical({ type: "mesh-request", group, method: method.toUpperCase(), path, ts, body: bodyHash }),
};

const maxByz = (k) => Math.max(0, Math.floor(k / 2) - 1);
const fullMask = (k) => (k >= 32 ? 0xffffffff : (1 << k) - 1);
const popcount = (m) => {
  let n = 0;
  for (let x = m >>> 0; x; x >>>= 1) n += x & 1;
  return n;
};
/** Same rule as functions/mesh/fireflies.ts rebuttalMask. */
export function rebuttalMask(mask, ring, k) {
  const byz = maxByz(k);
  const on = (m, r) => ((m >>> (r - 1)) & 1) === 1;
  if (byz === 0 || !on(mask, ring)) return mask >>> 0;
  let m = mask >>> 0;
  if (k - popcount(m) >= byz) {
    for (let r = 1; r <= k; r++)
      if (r !== ring && !on(m, r)) {
        m |= 1 << (r - 1);
        break;
      }
  }
  return (m & ~(1 << (ring - 1))) >>> 0;
}

const ECDSA = { name: "ECDSA", hash: "SHA-256" };

export class MeshMember {
  /** identity: { baseUrl, group, id, namedCurve, privateJwk, publicJwk?, cert?, caCert?, knownCerts?, trusted? } */
  constructor(identity, { compression } = {}) {
    this.identity = identity;
    this.group = identity.group;
    this.id = identity.id;
    this.curve = identity.namedCurve;
    this.compression = compression;
    this.epoch = identity.epoch ?? 0;
    this.numRings = 10;
    this.mask = 0;
    this.view = new Map();
    this.handlers = { message: () => null, gossip: () => null, response: () => {}, stream: () => {} };
    this.pending = new Map();
    this.streams = new Map();
    this.seq = 0;
    this.events = new EventTarget();
    /** false: ignore pings and accusations, as a member that hangs (tests of failure detection). */
    this.responsive = true;
  }

  static async load(path) {
    return new MeshMember(JSON.parse(await readFile(path, "utf8")));
  }

  /** A member from its certificate (OwnCert, base64 DER, or the whole certificateRequest answer) and a PEM key. */
  static async fromPem({ baseUrl, group, answer, cert, keyPem }) {
    return new MeshMember(await identityFromAnswer({ baseUrl, group, answer: answer ?? { OwnCert: cert }, privateJwk: jwkFromPem(keyPem) }));
  }

  async key() {
    this._key ??= await crypto.subtle.importKey("jwk", this.identity.privateJwk, { name: "ECDSA", namedCurve: this.curve }, false, ["sign"]);
    return this._key;
  }

  /** Sign(content): ECDSA-SHA256 with the certificate's key, raw r‖s, base64 (the group also takes Go's DER). */
  async sign(bytes) {
    return b64(new Uint8Array(await crypto.subtle.sign(ECDSA, await this.key(), bytes)));
  }

  /** VerifySignature(content, sig, id) against the key in that member's certificate; an unknown id is false. */
  async verifySignature(bytes, sig, id) {
    const m = this.view.get(id);
    if (!m) return false;
    try {
      const k = await crypto.subtle.importKey("spki", unb64(m.spkiDer), { name: "ECDSA", namedCurve: m.namedCurve }, false, ["verify"]);
      let raw = unb64(sig);
      if (raw[0] === 0x30) raw = derToRaw(raw, m.namedCurve) ?? raw;
      return await crypto.subtle.verify(ECDSA, k, raw, bytes);
    } catch {
      return false;
    }
  }

  onMessage(fn) {
    this.handlers.message = fn; // (bytes, fromId) => bytes | {data, error} | Promise
  }
  onGossip(fn) {
    this.handlers.gossip = fn; // GossipHandler: (bytes, fromId) => bytes | null
  }
  onResponse(fn) {
    this.handlers.response = fn; // ResponseHandler: (bytes | null, fromId, error) => void
  }
  onStream(fn) {
    this.handlers.stream = fn; // StreamHandler: (stream) => void; stream.on("data"), stream.send(bytes), stream.close()
  }

  /** Members(): rpc addresses of the live view as this member last learnt it. */
  members() {
    return [...this.view.values()].filter((m) => m.live && !m.revoked && m.id !== this.id).map((m) => m.rpcAddr);
  }

  wsUrl() {
    const u = new URL(`${this.identity.baseUrl.replace(/\/+$/, "")}/mesh/${encodeURIComponent(this.group)}/members/${this.id}/connect`);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.toString();
  }

  /** Connect, answer the challenge, publish the next note; resolves with the welcome once the note is accepted (live). */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.wsUrl(), { perMessageDeflate: this.compression ?? true });
      this.ws = ws;
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => reject(new Error(`connect refused: ${res.statusCode} ${body}`)));
      });
      let welcome = null;
      ws.on("error", reject);
      ws.on("close", (code, reason) => {
        this.closed = { code, reason: String(reason) };
        for (const p of this.pending.values()) p(null);
        this.pending.clear();
        reject(new Error(`connection closed: ${code} ${reason}`));
        this.events.dispatchEvent(Object.assign(new Event("close"), { code, reason: String(reason) }));
      });
      ws.on("message", (raw) => {
        const f = JSON.parse(String(raw));
        this.handle(f).catch((e) => console.error("mesh-member:", e));
        if (f.type === "welcome") welcome = f;
        if (f.type === "note-accepted" && welcome) resolve(welcome);
        if (f.type === "error" && (f.code === "bad_signature" || f.code === "note_rejected")) reject(new Error(`${f.code}: ${f.error}`));
      });
    });
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  async nextNote(mask) {
    this.epoch += 1;
    this.mask = mask >>> 0;
    const body = { id: this.id, epoch: this.epoch, mask: this.mask };
    return { ...body, sig: await this.sign(content.note(this.group, body)) };
  }

  async handle(f) {
    this.events.dispatchEvent(Object.assign(new Event("frame"), { frame: f }));
    switch (f.type) {
      case "challenge": {
        const sig = await this.sign(content.challenge(this.group, this.id, f.nonce));
        return this.send({ type: "hello", sig });
      }
      case "welcome":
        this.numRings = f.numRings;
        if (f.note && f.note.epoch >= this.epoch) {
          this.epoch = f.note.epoch;
          this.mask = f.note.mask;
        }
        if (!this.mask) this.mask = fullMask(this.numRings);
        // Publish a note newer than any the group holds (a restart keeps the member's identity, not its epoch).
        return this.send({
          type: "note",
          note: await this.nextNote(f.accusations?.length ? rebuttalMask(this.mask, f.accusations[0].ring, this.numRings) : this.mask),
        });
      case "ping":
        if (!this.responsive) return;
        return this.send({ type: "pong", pid: f.pid, sig: await this.sign(content.pong(this.group, f.nonce)) });
      case "suspect": {
        const body = { accused: f.accused, accuser: this.id, epoch: f.epoch, ring: f.ring };
        return this.send({ type: "accuse", accusation: { ...body, sig: await this.sign(content.accusation(this.group, body)) } });
      }
      case "accused":
        if (this.responsive && f.accusation.epoch === this.epoch)
          this.send({ type: "note", note: await this.nextNote(rebuttalMask(this.mask, f.accusation.ring, this.numRings)) });
        return;
      case "state":
        if (f.full) this.view.clear();
        for (const m of f.members) this.view.set(m.id, m);
        return;
      case "msg": {
        let out;
        try {
          out = await this.handlers.message(unb64(f.data), f.from);
        } catch (e) {
          return this.send({ type: "msg-reply", mid: f.mid, data: null, error: String(e?.message ?? e) });
        }
        if (out === undefined) return;
        const r = out instanceof Uint8Array || out === null ? { data: out, error: null } : out;
        return this.send({ type: "msg-reply", mid: f.mid, data: r.data ? b64(r.data) : null, error: r.error ?? null });
      }
      case "gossip": {
        let data = null;
        let error = null;
        try {
          data = await this.handlers.gossip(unb64(f.data), f.from);
        } catch (e) {
          error = String(e?.message ?? e);
        }
        return this.send({ type: "gossip-reply", gid: f.gid, data: data ? b64(data) : null, error });
      }
      case "gossip-response":
        return this.handlers.response(f.data ? unb64(f.data) : null, f.from, f.error ?? null);
      case "reply": {
        const p = this.pending.get(f.rid);
        if (!p) return;
        this.pending.delete(f.rid);
        // Ifrit's channel receives nil when the destination is unreachable or times out.
        return p(f.status === "ok" ? { data: f.data ? unb64(f.data) : null, error: f.error ?? null } : f.status === "unknown" ? { unknown: true } : null);
      }
      case "stream-open":
        return this.handlers.stream(this.stream(f.sid, f.from));
      case "stream-data":
        return this.streams.get(f.sid)?.dispatchEvent(Object.assign(new Event("data"), { data: unb64(f.data) }));
      case "stream-close": {
        const s = this.streams.get(f.sid);
        this.streams.delete(f.sid);
        return s?.dispatchEvent(new Event("close"));
      }
    }
  }

  /** SendToId: resolves with {data, error}, or null when the destination is unreachable or silent. */
  sendToId(id, bytes) {
    return this.#send({ to: id }, bytes);
  }

  /** SendTo: by rpc address (one of members()). */
  sendTo(addr, bytes) {
    return this.#send({ addr }, bytes);
  }

  async #send(to, bytes) {
    const rid = `r${++this.seq}`;
    const r = await new Promise((resolve) => {
      this.pending.set(rid, resolve);
      this.send({ type: "send", rid, ...to, data: b64(bytes) });
    });
    if (r?.unknown) throw new Error("no member with that id or address");
    return r;
  }

  /** SetGossipContent: sent to this member's ring neighbours every gossip_interval. */
  setGossipContent(bytes) {
    this.send({ type: "gossip-set", data: bytes ? b64(bytes) : null });
  }

  stream(sid, peer, opener = false) {
    const s = new EventTarget();
    s.peer = peer;
    s.send = (bytes) => this.send({ type: "stream-data", sid, data: b64(bytes) });
    s.close = () => {
      this.streams.delete(sid);
      this.send({ type: "stream-close", sid });
    };
    this.streams.set(sid, s);
    if (opener) this.send({ type: "stream-open", sid, to: peer });
    return s;
  }

  /** OpenStream(dest id): a sub-channel of this member's WebSocket. */
  openStream(id) {
    return this.stream(`s${++this.seq}`, id, true);
  }

  /** A signed HTTP request to the member routes (X-Mesh-Member, X-Mesh-Timestamp, X-Mesh-Signature). */
  async request(method, path, json) {
    const body = json === undefined ? "" : JSON.stringify(json);
    const ts = Math.floor(Date.now() / 1000);
    const hash = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(body))));
    const headers = {
      "x-mesh-member": this.id,
      "x-mesh-timestamp": String(ts),
      "x-mesh-signature": await this.sign(content.request(this.group, method, path, ts, hash)),
    };
    if (body) headers["content-type"] = "application/json";
    const res = await fetch(`${this.identity.baseUrl.replace(/\/+$/, "")}${path}`, { method, headers, body: body || undefined });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  liveView() {
    return this.request("GET", `/mesh/${encodeURIComponent(this.group)}/members`);
  }

  close() {
    this.ws?.close(1000, "bye");
  }
}

function derToRaw(sig, curve) {
  const size = { "P-256": 32, "P-384": 48, "P-521": 66 }[curve];
  let at = 2;
  if (sig[1] & 0x80) at = 2 + (sig[1] & 0x7f);
  const out = new Uint8Array(size * 2);
  for (let part = 0; part < 2; part++) {
    if (sig[at] !== 0x02) return null;
    const len = sig[at + 1];
    let int = sig.subarray(at + 2, at + 2 + len);
    while (int.length > size && int[0] === 0) int = int.subarray(1);
    out.set(int, part * size + (size - int.length));
    at += 2 + len;
  }
  return out;
}

/**
 * Enrol: a PKCS#10 request (ECDSA, SHA-256, Locality = rpc, ping[, http] as one RDN, as Go's crypto/x509 writes it)
 * to POST /mesh/:group/certificateRequest, as Ifrit's client sends it. Returns the identity to save.
 */
export async function enrol({ baseUrl, group, rpc, ping, http, curve = "P-256", token, dnsNames = [] }) {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
  const localities = [rpc, ping, ...(http ? [http] : [])];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ L: localities }],
    keys,
    signingAlgorithm: ECDSA,
    extensions: dnsNames.length ? [new x509.SubjectAlternativeNameExtension(dnsNames.map((d) => ({ type: "dns", value: d })))] : [],
  });
  const answer = await postRequest({ baseUrl, group, der: new Uint8Array(csr.rawData), token });
  return identityFromAnswer({ baseUrl, group, answer, privateJwk: await crypto.subtle.exportKey("jwk", keys.privateKey) });
}

/** POST certificateRequest with a request made elsewhere (DER or PEM) and return Ifrit's answer. */
export async function postRequest({ baseUrl, group, der, token }) {
  const headers = { "content-type": "text" };
  if (token) headers["mesh-enrolment-token"] = token;
  const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/mesh/${encodeURIComponent(group)}/certificateRequest`, { method: "POST", headers, body: der });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`certificateRequest failed: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Enrol with a request made by OpenSSL or Go and the key it was made with (PKCS#8 or SEC1 PEM). */
export async function enrolRequest({ baseUrl, group, der, keyPem, token }) {
  const answer = await postRequest({ baseUrl, group, der, token });
  return identityFromAnswer({ baseUrl, group, answer, privateJwk: jwkFromPem(keyPem) });
}

/** A private key in PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY") as a JWK WebCrypto imports. */
export function jwkFromPem(keyPem) {
  const jwk = createPrivateKey({ key: keyPem, format: "pem" }).export({ format: "jwk" });
  if (jwk.kty !== "EC" || !["P-256", "P-384", "P-521"].includes(jwk.crv)) throw new Error("the key must be an ECDSA P-256, P-384 or P-521 private key");
  return jwk;
}

/** The identity file: the member id (the certificate's SubjectKeyId), its curve, the key and the CA's answer. */
export async function identityFromAnswer({ baseUrl, group, answer, privateJwk }) {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  const own = new x509.X509Certificate(unb64(answer.OwnCert));
  const ski = own.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new Error("OwnCert has no SubjectKeyIdentifier (the member id)");
  const spki = new Uint8Array(own.publicKey.rawData);
  const mine = createPublicKey(createPrivateKey({ key: privateJwk, format: "jwk" })).export({ type: "spki", format: "der" });
  if (Buffer.compare(Buffer.from(spki), mine) !== 0) throw new Error("OwnCert certifies another key than the one given");
  return {
    baseUrl,
    group,
    id: ski.keyId.toLowerCase(),
    namedCurve: privateJwk.crv,
    privateJwk,
    cert: answer.OwnCert,
    caCert: answer.CaCert,
    knownCerts: answer.KnownCerts,
    trusted: answer.Trusted,
    notAfter: own.notAfter.toISOString(),
  };
}

export { canonical, csrFor };

/** The CSR alone (for tests that compare it with OpenSSL's and Go's). */
async function csrFor({ rpc, ping, http, curve = "P-256" }) {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ L: [rpc, ping, ...(http ? [http] : [])] }], keys, signingAlgorithm: ECDSA });
  return { keys, der: new Uint8Array(csr.rawData), pem: csr.toString("pem") };
}

// ---- CLI ------------------------------------------------------------------------------------------------------------

function args(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith("--")) out[argv[i].slice(2)] = argv[i + 1]?.startsWith("--") || argv[i + 1] === undefined ? true : argv[++i];
    else out._.push(argv[i]);
  }
  return out;
}

async function main() {
  const a = args(process.argv.slice(2));
  const cmd = a._[0];
  if (cmd === "csr") {
    const { pem } = await csrFor({ rpc: a.rpc ?? "127.0.0.1:8300", ping: a.ping ?? "127.0.0.1:8301", http: a.http, curve: a.curve });
    process.stdout.write(pem);
    return;
  }
  if (cmd === "enrol") {
    const id = a.csr
      ? await enrolRequest({
          baseUrl: a.base ?? "http://127.0.0.1:8787",
          group: a.group,
          der: await readFile(a.csr),
          keyPem: await readFile(a.key, "utf8"),
          token: a.token,
        })
      : await enrol({
          baseUrl: a.base ?? "http://127.0.0.1:8787",
          group: a.group,
          rpc: a.rpc,
          ping: a.ping,
          http: a.http,
          curve: a.curve,
          token: a.token,
        });
    await writeFile(a.out ?? "member.json", JSON.stringify(id, null, 2), { mode: 0o600 });
    console.log(JSON.stringify({ id: id.id, trusted: id.trusted, notAfter: id.notAfter, saved: a.out ?? "member.json" }));
    return;
  }
  const m = await MeshMember.load(a.identity ?? "member.json");
  if (cmd === "members") return void console.log(JSON.stringify((await m.liveView()).body, null, 2));
  if (cmd === "send") {
    const r = await m.request("POST", `/mesh/${encodeURIComponent(m.group)}/members/${a.to}/messages`, { data: b64(enc.encode(a.data ?? "")) });
    console.log(JSON.stringify(r.status === 200 ? { data: r.body.data ? Buffer.from(r.body.data, "base64").toString() : null, error: r.body.error } : r));
    return;
  }
  if (cmd === "connect" || cmd === "gossip") {
    m.onMessage((bytes, from) => enc.encode(`echo from ${m.id.slice(0, 8)}: ${Buffer.from(bytes).toString()} (to ${from.slice(0, 8)})`));
    m.onGossip((bytes, from) => enc.encode(`${m.id.slice(0, 8)} heard ${Buffer.from(bytes).toString()} from ${from.slice(0, 8)}`));
    m.onResponse((bytes, from, err) => console.log(JSON.stringify({ gossipResponse: bytes ? Buffer.from(bytes).toString() : null, from, error: err })));
    m.onStream((s) => s.addEventListener("data", (e) => s.send(e.data)));
    m.events.addEventListener("close", (e) => {
      console.log(JSON.stringify({ closed: e.code, reason: e.reason }));
      process.exit(e.code === 1000 ? 0 : 1);
    });
    const w = await m.connect();
    console.log(JSON.stringify({ connected: m.id, numRings: w.numRings, config: w.config }));
    if (cmd === "gossip") m.setGossipContent(enc.encode(a.data ?? "hello"));
    m.events.addEventListener("frame", (e) => {
      if (e.frame.type === "state") console.log(JSON.stringify({ members: m.members() }));
    });
    process.on("SIGINT", () => m.close());
    return;
  }
  console.error("usage: mesh-member.mjs enrol|connect|members|send|gossip|csr [--identity file] (see the header of this file)");
  process.exit(2);
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((e) => (console.error(e.message ?? e), process.exit(1)));
