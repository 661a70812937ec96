// Minion registry end to end: simulated stormflash agents (tools/agent-sim.mjs) over real WebSockets to `wrangler dev`,
// with real alarms polling their status every 300 ms.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { registerAgent, StormflashAgent, WsClient } from "../../tools/agent-sim.mjs";
import { client, SECRETS, startWorker } from "./harness.mjs";

const INTERVAL_MS = 300;

async function until(what, fn, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("minion registry over real WebSockets (wrangler dev)", () => {
  let w;
  let call;
  let token;
  const agents = [];
  const head = async (p) => call("HEAD", p, { token });
  const sumOf = async (p) => (await head(p)).headers.get("content-md5");

  before(async () => {
    w = await startWorker({ vars: { MONITOR_INTERVAL_MS: String(INTERVAL_MS), BEACON_INTERVAL_S: "1", BEACON_VALIDITY_S: "3", PROXY_TIMEOUT_MS: "2000" } });
    call = client(w.url);
    const login = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    token = login.body.token;
  });
  after(async () => {
    for (const a of agents) a.close();
    await w?.stop();
  });

  it("starts empty: HEAD /minions is the MD5 of nothing", async () => {
    const h = await head("/minions");
    assert.equal(h.status, 200);
    assert.equal(h.headers.get("content-md5"), "d41d8cd98f00b204e9800998ecf8427e");
    assert.equal(h.headers.get("etag"), '"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it("three agents connect and appear with their status; HEAD and GET agree", async () => {
    for (let i = 0; i < 3; i++) {
      const a = await StormflashAgent.register(w.url, { auth: i === 2 ? "protocol" : "header" });
      await a.connect();
      agents.push(a);
    }
    await until("three minions", async () => (await head("/minions")).headers.get("x-minion-count") === "3");
    const list = await call("GET", "/minions", { token });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((m) => m.id).sort(), agents.map((a) => a.id).sort());
    assert.equal(list.headers.get("content-md5"), await sumOf("/minions"));
    const one = await call("GET", `/minions/${agents[0].id}`, { token });
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.packages, agents[0].status.packages);
    assert.equal(one.headers.get("content-md5"), await sumOf(`/minions/${agents[0].id}`));
    assert.equal((await call("GET", "/minions", { token, headers: { "if-none-match": list.headers.get("etag") } })).status, 304);
  });

  it("os changes on every poll (uptime, loadavg, hostname) but no checksum moves", async () => {
    const fleet = await sumOf("/minions");
    const mine = await sumOf(`/minions/${agents[0].id}`);
    const polls = agents[0].relays;
    agents[0].touchOs();
    await until("three more polls", async () => agents[0].relays >= polls + 3);
    assert.equal(await sumOf(`/minions/${agents[0].id}`), mine);
    assert.equal(await sumOf("/minions"), fleet);
  });

  it("a package change moves that minion's checksum and the fleet's, and shows in the change feed", async () => {
    const cursor = (await call("GET", "/minions", { token })).headers.get("x-minions-cursor");
    const fleet = await sumOf("/minions");
    const mine = await sumOf(`/minions/${agents[1].id}`);
    const other = await sumOf(`/minions/${agents[2].id}`);
    agents[1].installPackage("tcpdump", "4.9.3");
    await until("the checksum to change", async () => (await sumOf(`/minions/${agents[1].id}`)) !== mine);
    assert.notEqual(await sumOf("/minions"), fleet);
    assert.equal(await sumOf(`/minions/${agents[2].id}`), other);
    const got = await call("GET", `/minions/${agents[1].id}`, { token });
    assert.equal(got.body.packages.at(-1).name, "tcpdump");
    const feed = await call("GET", `/minions?since=${encodeURIComponent(cursor)}`, { token });
    assert.deepEqual(feed.body.ids, [agents[1].id]);
    assert.deepEqual(
      feed.body.changes.map((c) => c.type),
      ["changed"],
    );
    const buckets = await call("GET", "/minions/buckets", { token });
    assert.equal(buckets.body.checksum, await sumOf("/minions"));
    assert.equal(buckets.body.count, 3);
  });

  it("the proxy relays to an agent: GET its status, POST a package (which then changes its checksum)", async () => {
    const a = agents[2];
    const st = await call("GET", `/proxy/${a.id}@5000/status`, { token });
    assert.equal(st.status, 200);
    assert.equal(st.body.id, a.id);
    const before = await sumOf(`/minions/${a.id}`);
    const post = await call("POST", `/proxy/${a.id}@5000/packages`, { token, json: { name: "htop", version: "2.0" } });
    assert.equal(post.status, 201);
    assert.equal(post.body.name, "htop");
    await until("the checksum to change", async () => (await sumOf(`/minions/${a.id}`)) !== before);
    assert.equal((await call("GET", `/proxy/${a.id}@8080/status`, { token })).status, 404);
  });

  it("another device's token cannot connect as this agent (403)", async () => {
    const other = await registerAgent(w.url);
    const ws = new WsClient(`${w.url}/agents/${agents[0].id}/connect`, { headers: { Authorization: `Bearer ${other.token}` } });
    await assert.rejects(ws.connect(), (e) => e.status === 403);
  });

  it("a disconnected agent leaves, and the fleet checksum changes back", async () => {
    const before = await sumOf("/minions");
    const extra = await StormflashAgent.register(w.url);
    await extra.connect();
    await until("the extra minion", async () => (await head(`/minions/${extra.id}`)).status === 200);
    assert.notEqual(await sumOf("/minions"), before);
    extra.close();
    await until("the extra minion to leave", async () => (await head(`/minions/${extra.id}`)).status === 404);
    assert.equal(await sumOf("/minions"), before);
  });

  it("an agent that stops beaconing is dropped after BEACON_VALIDITY_S and comes back on reconnect", async () => {
    const mute = await StormflashAgent.register(w.url, { beacons: false });
    await mute.connect();
    await until("the mute minion", async () => (await head(`/minions/${mute.id}`)).status === 200);
    const closed = new Promise((r) => mute.once("close", (code) => r(code)));
    await until("the mute minion to expire", async () => (await head(`/minions/${mute.id}`)).status === 404, 10_000);
    assert.equal(await closed, 4001);
    mute.beacons = true;
    await mute.connect();
    await until("the mute minion to return", async () => (await head(`/minions/${mute.id}`)).status === 200);
    await sleep(3500); // longer than the validity: its beacons now keep it
    assert.equal((await head(`/minions/${mute.id}`)).status, 200);
    mute.close();
  });
});
