#!/usr/bin/env node
// A stormflash stand-in: registers as a device, logs in, holds a WebSocket to /agents/:id/connect, says hello,
// beacons, and answers relayed requests (GET /status with a realistic status object, /packages, ...).
// No dependencies: the WebSocket client below is a minimal RFC 6455 client on node:http (Node 20's global
// WebSocket is behind a flag and cannot set headers), so the token goes in `Authorization: Bearer`.
//
//   node tools/agent-sim.mjs --url http://127.0.0.1:8787 --count 3 [--change-every 30000] [--os-every 5000] [--duration 60000]
//
// Importable: `import { StormflashAgent, registerAgent, simulate } from "./tools/agent-sim.mjs"`.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { EventEmitter } from "node:events";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Minimal WebSocket client: text frames, ping/pong, close, fragmentation; events open/message/close/error. */
export class WsClient extends EventEmitter {
  constructor(url, { headers = {}, protocols } = {}) {
    super();
    this.url = new URL(url);
    this.headers = headers;
    this.protocols = protocols;
    this.socket = null;
    this.open = false;
    this.closed = false;
    this.buf = Buffer.alloc(0);
    this.fragments = null;
  }

  connect(timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString("base64");
      const secure = this.url.protocol === "https:" || this.url.protocol === "wss:";
      const lib = secure ? https : http;
      const headers = {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
        ...this.headers,
      };
      if (this.protocols) headers["Sec-WebSocket-Protocol"] = this.protocols.join(", ");
      const req = lib.request({
        hostname: this.url.hostname,
        port: this.url.port || (secure ? 443 : 80),
        path: this.url.pathname + this.url.search,
        method: "GET",
        headers,
        timeout: timeoutMs,
      });
      req.on("timeout", () => req.destroy(new Error("WebSocket handshake timed out")));
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          const e = new Error(`WebSocket upgrade refused: ${res.statusCode} ${body}`);
          e.status = res.statusCode;
          e.body = body;
          reject(e);
        });
      });
      req.on("upgrade", (res, socket, head) => {
        const expect = createHash("sha1")
          .update(key + GUID)
          .digest("base64");
        if (res.headers["sec-websocket-accept"] !== expect) {
          socket.destroy();
          return reject(new Error("bad Sec-WebSocket-Accept"));
        }
        this.socket = socket;
        this.protocol = res.headers["sec-websocket-protocol"] ?? null;
        this.open = true;
        socket.setNoDelay(true);
        socket.on("data", (d) => this.onData(d));
        socket.on("close", () => this.onClosed(1006, "connection lost"));
        socket.on("error", (e) => this.emit("error", e));
        if (head?.length) this.onData(head);
        this.emit("open");
        resolve(this);
      });
      req.end();
    });
  }

  send(text) {
    if (!this.open) throw new Error("WebSocket is not open");
    this.writeFrame(0x1, Buffer.from(text, "utf8"));
  }

  close(code = 1000, reason = "") {
    if (!this.open) return;
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.writeFrame(0x8, p);
    this.open = false;
    setTimeout(() => this.socket?.destroy(), 1000).unref();
  }

  /** Drop the TCP connection without a close frame (a crashed agent). */
  destroy() {
    this.open = false;
    this.socket?.destroy();
  }

  writeFrame(opcode, payload) {
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    const body = Buffer.alloc(len);
    for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const fin = (this.buf[0] & 0x80) !== 0;
      const opcode = this.buf[0] & 0x0f;
      const masked = (this.buf[1] & 0x80) !== 0;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskKey = masked ? this.buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      let payload = this.buf.subarray(off, off + len);
      if (maskKey) payload = Buffer.from(payload.map((b, i) => b ^ maskKey[i & 3]));
      this.buf = this.buf.subarray(off + len);
      this.onFrame(fin, opcode, payload);
    }
  }

  onFrame(fin, opcode, payload) {
    if (opcode === 0x9) return this.open && this.writeFrame(0xa, payload);
    if (opcode === 0xa) return;
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      const reason = payload.length > 2 ? payload.subarray(2).toString("utf8") : "";
      if (this.open) {
        this.writeFrame(0x8, payload.subarray(0, 2));
        this.open = false;
      }
      this.socket.end();
      return this.onClosed(code, reason);
    }
    if (opcode === 0x1 || opcode === 0x2) this.fragments = [payload];
    else if (opcode === 0x0 && this.fragments) this.fragments.push(payload);
    if (fin && this.fragments) {
      const msg = Buffer.concat(this.fragments).toString("utf8");
      this.fragments = null;
      this.emit("message", msg);
    }
  }

  onClosed(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    this.emit("close", code, reason);
  }
}

/** 64 random letters, as OONI probe-cli makes its password (a long random secret: cheap login). */
function secret() {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return Array.from(randomBytes(64), (b) => letters[b % letters.length]).join("");
}

async function postJson(base, path, body) {
  const r = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Enrol a stormflash agent and log it in: { id, secret, token } (an agent token, kind "agent").
 * `enrolmentSecret`: AGENT_ENROLMENT = token. In approval mode the agent is pending: this throws until an admin
 * approves it (POST /api/v1/admin/minions/:id/approve); pass `{ approve: adminToken }` to approve it here.
 * `{ asProbe: true }` uses the OONI probe flow instead (its probe token connects only in open mode).
 */
export async function registerAgent(base, { enrolmentSecret, approve, asProbe = false } = {}) {
  if (asProbe) {
    const password = secret();
    const { client_id: id } = await postJson(base, "/api/v1/register", {
      probe_cc: "ZZ",
      probe_asn: "AS0",
      platform: "linux",
      software_name: "stormflash",
      software_version: "1.3.3",
      supported_tests: ["status"],
      password,
    });
    const { token } = await postJson(base, "/api/v1/login", { username: id, password });
    return { id, password, token };
  }
  const reg = await postJson(base, "/api/v1/agents/register", { name: "agent-sim", ...(enrolmentSecret ? { enrolment_secret: enrolmentSecret } : {}) });
  if (reg.state === "pending" && approve) {
    const r = await fetch(`${base}/api/v1/admin/minions/${reg.client_id}/approve`, { method: "POST", headers: { authorization: `Bearer ${approve}` } });
    if (!r.ok) throw new Error(`approve: ${r.status} ${await r.text()}`);
  }
  const { token } = await postJson(base, "/api/v1/agents/login", { client_id: reg.client_id, secret: reg.secret });
  return { id: reg.client_id, secret: reg.secret, password: reg.secret, token };
}

/** A realistic stormflash status object (the shape of the seed's `GET /minions/:id` response). */
export function makeStatus(id, { hostname = `kvm${id.slice(0, 3)}`, packages } = {}) {
  return {
    id,
    instance: randomUUID(),
    activated: true,
    running: true,
    env: {
      provider: "openstack",
      skey: randomUUID(),
      tracker: "https://stormtracker.dev.intercloud.net/",
      token: randomUUID(),
      id,
      bolt: {
        beaconValidity: 45,
        beaconRetry: 3,
        beaconInterval: 10,
        listenPort: 0,
        allowedPorts: [5000],
        relayPort: 0,
        allowRelay: false,
        uplinkStrategy: "round-robin",
        uplinks: ["stormtower.dev.intercloud.net"],
      },
    },
    haveCredentials: true,
    config: {
      repeatInterval: 25000,
      insecure: true,
      uplinks: ["stormtower.dev.intercloud.net"],
      uplinkStrategy: "round-robin",
      allowRelay: false,
      relayPort: 0,
      allowedPorts: [5000],
      listenPort: 0,
      beaconInterval: 10,
      beaconRetry: 3,
      beaconValidity: 45,
      port: 5000,
      logfile: "/var/log/stormflash.log",
      datadir: "/var/stormflash",
      repeatdelay: 5000,
    },
    os: {
      tmpdir: "/lib/node_modules/stormflash",
      endianness: "LE",
      hostname,
      type: "Linux",
      platform: "linux",
      release: "2.6.34.7",
      arch: "ia32",
      uptime: 33.254722954,
      loadavg: [0, 0, 0],
      totalmem: 1073741824,
      freemem: 536870912,
      cpus: [{ model: "Intel(R) Core(TM)2 Duo CPU     T7700  @ 2.40GHz", speed: 1999, times: { user: 27600, nice: 0, sys: 22900, idle: 247000, irq: 0 } }],
      networkInterfaces: {
        lo: [{ address: "127.0.0.1", family: "IPv4", internal: true }],
        wan0: [{ address: "10.101.1.7", family: "IPv4", internal: false }],
      },
    },
    uplink: { host: "stormtower.dev.intercloud.net", port: 443 },
    clients: [],
    packages: packages ?? [
      { name: "stormflash", version: "*", source: "builtin", type: "npm", status: { installed: true }, id: randomUUID() },
      { name: "corenova", version: "1.4.2", source: "builtin", type: "dpkg", status: { installed: true }, id: randomUUID() },
      { name: "nodejs", version: "0.10.13", source: "builtin", type: "dpkg", status: { installed: true }, id: randomUUID() },
      { name: "openvpn", version: "2.1.3", source: "builtin", type: "dpkg", status: { installed: true }, id: randomUUID() },
      { name: "uproxy", version: "1.4.0", source: "builtin", type: "dpkg", status: { installed: true }, id: randomUUID() },
    ],
    services: [],
    instances: [],
  };
}

/**
 * One simulated agent. `liveOs` (default true) makes os.uptime/loadavg move on every status call, as a real
 * stormflash does; `beacons: false` stops beaconing (to exercise expiry); `reconnect` redials after a drop.
 */
export class StormflashAgent extends EventEmitter {
  constructor({ url, id, token, capability = [5000], status, beacons = true, liveOs = true, reconnect = false, auth = "header" }) {
    super();
    this.base = url.replace(/\/+$/, "");
    this.id = id;
    this.token = token;
    this.capability = capability;
    this.status = status ?? makeStatus(id);
    this.beacons = beacons;
    this.liveOs = liveOs;
    this.reconnect = reconnect;
    this.auth = auth;
    this.ws = null;
    this.timer = null;
    this.sent = 0;
    this.replies = 0;
    this.relays = 0;
    this.stopped = false;
  }

  static async register(url, opts = {}) {
    const base = url.replace(/\/+$/, "");
    const a = await registerAgent(base);
    return new StormflashAgent({ url: base, id: a.id, token: a.token, ...opts });
  }

  async connect() {
    const wsUrl = `${this.base}/agents/${this.id}/connect`;
    const opts = this.auth === "protocol" ? { protocols: ["bearer", this.token] } : { headers: { Authorization: `Bearer ${this.token}` } };
    const ws = new WsClient(wsUrl, opts);
    this.ws = ws;
    this.sent = 0;
    this.replies = 0;
    const ready = new Promise((resolve) => ws.once("hello:reply", resolve));
    ws.on("message", (m) => this.onMessage(ws, m));
    ws.on("error", () => {});
    ws.on("close", (code, reason) => {
      clearInterval(this.timer);
      this.emit("close", code, reason);
      if (this.reconnect && !this.stopped) setTimeout(() => this.connect().catch(() => {}), 1000).unref();
    });
    await ws.connect();
    ws.send(JSON.stringify({ type: "hello", capability: this.capability }));
    const reply = await ready;
    if (this.beacons) this.startBeacons(reply);
    return this;
  }

  startBeacons({ beaconInterval = 10, beaconRetry = 3 }) {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (!this.ws?.open) return;
      // stormbolt's client rule: too many unanswered beacons and the link is dead.
      if (this.sent - this.replies >= beaconRetry) return this.ws.destroy();
      this.sent++;
      this.ws.send('{"type":"beacon"}');
    }, beaconInterval * 1000);
    this.timer.unref();
  }

  stopBeacons() {
    clearInterval(this.timer);
  }

  onMessage(ws, text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (f.type === "hello:reply") return ws.emit("hello:reply", f);
    if (f.type === "beacon:reply") return void this.replies++;
    if (f.type !== "relay") return;
    if (!this.capability.includes(f.port)) return; // stormflash ends the stream silently
    this.relays++;
    const reply = this.handle(f);
    // A poll can cross the close frame of an agent shutting down: nothing to answer on a closed socket.
    if (reply && ws.open) ws.send(JSON.stringify({ type: "relay-reply", rid: f.rid, ...reply }));
  }

  /** The agent's local web API on port 5000. */
  handle(f) {
    const json = (statusCode, body) => ({ statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const path = f.url.split("?")[0];
    if (f.method === "GET" && path === "/status") {
      if (this.liveOs) {
        this.status.os.uptime = Math.round((this.status.os.uptime + 15.5) * 1000) / 1000;
        this.status.os.loadavg = [Math.random(), Math.random(), Math.random()].map((x) => Math.round(x * 100) / 100);
      }
      return json(200, this.status);
    }
    if (f.method === "GET" && path === "/packages") return json(200, this.status.packages);
    if (f.method === "POST" && path === "/packages") {
      const p = {
        name: String(f.data?.name ?? "unnamed"),
        version: String(f.data?.version ?? "*"),
        source: "npm",
        type: "npm",
        status: { installed: true },
        id: randomUUID(),
      };
      this.status.packages.push(p);
      return json(201, p);
    }
    return json(404, { error: "not found" });
  }

  /** Install (or bump) a package: the checksums must change at the next poll. */
  installPackage(name = `pkg-${randomBytes(3).toString("hex")}`, version = "1.0.0") {
    this.status.packages.push({ name, version, source: "npm", type: "npm", status: { installed: true }, id: randomUUID() });
  }

  /** Change only the os block: the checksums must not change. */
  touchOs() {
    this.status.os.hostname = `${this.status.os.hostname.split("-")[0]}-${randomBytes(2).toString("hex")}`;
    this.status.os.freemem = Math.floor(Math.random() * 1e9);
  }

  close() {
    this.stopped = true;
    clearInterval(this.timer);
    this.ws?.close(1000, "agent shutting down");
  }
}

/** Register and connect `count` agents (in parallel batches); returns them. */
export async function simulate({ url, count = 1, concurrency = 50, ...opts }) {
  const agents = [];
  for (let i = 0; i < count; i += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, count - i) }, async () => {
        const a = await StormflashAgent.register(url, opts);
        await a.connect();
        return a;
      }),
    );
    agents.push(...batch);
  }
  return agents;
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const url = arg("url", "http://127.0.0.1:8787");
  const count = Number(arg("count", "1"));
  const changeEvery = Number(arg("change-every", "0"));
  const osEvery = Number(arg("os-every", "0"));
  const duration = Number(arg("duration", "0"));
  const agents = await simulate({ url, count, reconnect: true });
  for (const a of agents) console.log(`agent ${a.id} connected`);
  const timers = [];
  if (changeEvery > 0)
    timers.push(
      setInterval(() => {
        const a = agents[Math.floor(Math.random() * agents.length)];
        a.installPackage();
        console.log(`agent ${a.id}: installed a package (checksums change at the next poll)`);
      }, changeEvery),
    );
  if (osEvery > 0)
    timers.push(
      setInterval(() => {
        for (const a of agents) a.touchOs();
        console.log("all agents: os changed (checksums stay)");
      }, osEvery),
    );
  const stop = () => {
    timers.forEach(clearInterval);
    for (const a of agents) a.close();
    setTimeout(() => process.exit(0), 500);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (duration > 0) setTimeout(stop, duration);
}
