#!/usr/bin/env node
import os from "node:os";
import { client, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { enrol, MeshMember } from "../tools/mesh-member.mjs";
import { arg, commandLine, col, devVars, measure as measureRoute, table as tableOf, writeSection } from "./lib.mjs";

const SECONDS = Number(arg("seconds", "6"));
const CONCURRENCY = Number(arg("concurrency", "8"));
const WRITE = process.argv.includes("--write");
const { MESH_CA_KEY } = devVars(/^MESH_CA_KEY$/);
const PAYLOAD = new TextEncoder().encode("x".repeat(64));

/** Each op answers whether its round trip came back right. */
const measure = (name, op, concurrency = CONCURRENCY) => measureRoute(name, op, { seconds: SECONDS, concurrency, ok: Boolean });

const loadBefore = os.loadavg()[0];
const w = await startWorker({ devtools: false, vars: { MESH_CA_KEY } });
const call = client(w.url);
const members = [];
let rows;
try {
  const login = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
  const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name: "bench" }, token: login.body.token });
  if (g.status !== 201) throw new Error(`group: ${g.status} ${JSON.stringify(g.body)}`);
  // One sender and one destination per concurrent client, all in one group (one object), all connected.
  for (let i = 0; i < 2 * CONCURRENCY; i++) {
    const id = await enrol({ baseUrl: w.url, group: "bench", rpc: `10.0.0.${i + 1}:8000`, ping: `10.0.0.${i + 1}:8001` });
    const m = new MeshMember(id, { compression: false });
    m.onMessage((bytes) => bytes);
    await m.connect();
    members.push(m);
  }
  const senders = members.slice(0, CONCURRENCY);
  const dests = members.slice(CONCURRENCY);
  const body = { data: Buffer.from(PAYLOAD).toString("base64") };
  const viaWs = async (wk) => {
    const r = await senders[wk].sendToId(dests[wk].id, PAYLOAD);
    return r?.data?.length === PAYLOAD.length;
  };
  const viaHttp = async (wk) => {
    const r = await senders[wk].request("POST", `/mesh/bench/members/${dests[wk].id}/messages`, body);
    return r.status === 200 && r.body.data === body.data;
  };
  for (let i = 0; i < 50; i++) await call("GET", "/health");
  for (let i = 0; i < 20; i++) await Promise.all(senders.map((_, wk) => viaWs(wk).then(() => viaHttp(wk))));

  rows = [];
  rows.push(await measure("GET /health (bare, first)", async () => (await call("GET", "/health")).status === 200));
  rows.push(await measure("GET /health (bare, one at a time)", async () => (await call("GET", "/health")).status === 200, 1));
  rows.push(await measure("SendToId over the WebSocket (one at a time)", viaWs, 1));
  rows.push(await measure("SendToId over the WebSocket", viaWs));
  rows.push(await measure("POST /mesh/:group/members/:id/messages (signed)", viaHttp));
  rows.push(await measure("GET /health (bare, last)", async () => (await call("GET", "/health")).status === 200));
} finally {
  for (const m of members) m.close();
  await w.stop();
}

const loadAfter = os.loadavg()[0];
const table = tableOf(rows, [col.route, col.clients, col.rps("round trips/s"), col.vsBare, col.p50, col.p99, col.errors]);
console.log(`\n${table}`);

if (WRITE) {
  const section = [
    "<!-- mesh-messages:start -->",
    "## Mesh message round trips",
    "",
    commandLine(`node bench/mesh-messages.mjs --seconds ${SECONDS} --concurrency ${CONCURRENCY} --write`),
    `wrangler's dev server with the devtools inspector off (\`test/e2e/harness.mjs\`), one open group (one MeshGroup object) with ${2 * CONCURRENCY} members enrolled and connected with tools/mesh-member.mjs (P-256, WebSocket compression off), default intervals (10 s ping and gossip rounds run meanwhile). Each client has its own sender and destination; a round trip is a 64-byte message to the destination's handler, which echoes it, and the reply back at the sender. Over the WebSocket: send frame → object → msg frame → msg-reply → reply frame. Over HTTP: a signed POST (the Worker has the object verify the signature, then relays through it and waits for the reply). ${SECONDS} s per row; the bare route is measured first and last with all clients, and once with one client (to set against the one-at-a-time round trip); percentages are against the mean of the first and last.`,
    "",
    table,
    "",
    `One-minute load average ${loadBefore.toFixed(1)} before the run and ${loadAfter.toFixed(1)} after it, on ${os.cpus().length} cores: other engineers' test runs shared the machine, so the absolute figures are low and the ratios are what carries over. Every message goes through the one object of its group (SQLite writes for the queue row and its removal, two WebSocket sends), so a group's message rate is bounded by that object's single thread, whatever the number of members. A round trip over an open WebSocket costs less than a bare HTTP request (no connection handling, header parsing or routing per message: two frames in, two out); the HTTP message route adds to a bare request the Worker → object call that verifies the member's ECDSA signature and the relay itself.`,
    "<!-- mesh-messages:end -->",
  ].join("\n");
  writeSection("mesh-messages", section);
}
