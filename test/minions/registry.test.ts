import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { fleetDigestOf, md5Hex } from "../../functions/minions/checksum";
import { adminToken, call, createOperator } from "../helpers";
import { agentStub, closeAll, connectAgent, registerAgent, seedStatus, SimAgent, tick, upgrade, waitFor } from "./agents";

let token: string;
beforeAll(async () => {
  token = await adminToken();
});
afterEach(() => closeAll(token));

const head = (path: string, headers: Record<string, string> = {}) => call("HEAD", path, { token, headers });
const get = (path: string, headers: Record<string, string> = {}) => call("GET", path, { token, headers });
const fleetSum = async () => (await head("/minions")).headers.get("content-md5")!;
const minionSum = async (id: string) => (await head(`/minions/${id}`)).headers.get("content-md5");

/** The checksum the spec defines, computed here from the fixture (not by the code under test). */
function expectedChecksum(status: Record<string, unknown>) {
  const copy = { ...status };
  delete copy.os;
  return md5Hex(JSON.stringify(copy));
}

async function eventsOf(id: string): Promise<string[]> {
  const r = await env.DB.prepare("SELECT type FROM events WHERE subject_kind = 'minion' AND subject_id = ? AND type LIKE 'minion.%' ORDER BY id")
    .bind(id)
    .all<{ type: string }>();
  return r.results.map((e) => e.type);
}

async function present(id: string) {
  return (await head(`/minions/${id}`)).status === 200;
}

describe("minion registry, as Stormtower clients use it (docs/minions.md)", () => {
  it("an empty registry: HEAD /minions is d41d8cd98f00b204e9800998ecf8427e, GET is [], and both need a viewer token", async () => {
    const h = await head("/minions");
    expect(h.status).toBe(200);
    expect(h.headers.get("content-md5")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(h.headers.get("etag")).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
    const g = await get("/minions");
    expect(g.body).toEqual([]);
    expect((await call("GET", "/minions")).status).toBe(401);
    const viewer = await createOperator("viewer");
    expect((await call("HEAD", "/minions", { token: viewer.token })).status).toBe(200);
  });

  it("connect/ready: absent until the first status arrives, then listed with its status", async () => {
    const a = await registerAgent();
    const res = await upgrade(a.id, { token: a.token });
    const sim = new SimAgent(a.id, res.webSocket!);
    sim.mode = "hold";
    sim.hello();
    await waitFor(() => sim.held.length === 1, 3000, "the first status relay");
    expect(sim.held[0]).toMatchObject({ type: "relay", port: 5000, method: "GET", url: "/status", data: null });
    expect(typeof sim.held[0].rid).toBe("string");
    const before = await get(`/minions/${a.id}`);
    expect(before.status).toBe(404);
    expect(before.body.code).toBe("not_found");
    expect((await get("/minions")).body.some((m: any) => m.id === a.id)).toBe(false);
    sim.release();
    await waitFor(() => present(a.id), 3000, "the minion to appear");
    const one = await get(`/minions/${a.id}`);
    expect(one.body).toEqual(sim.status);
    expect((await get("/minions")).body.find((m: any) => m.id === a.id)).toEqual(sim.status);
    expect(await eventsOf(a.id)).toEqual(["minion.joined"]);
    sim.close();
  });

  it("per-minion checksum: HEAD /minions/:id carries md5hex(JSON.stringify(status minus os)) of the fixture, empty body", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const h = await head(`/minions/${sim.id}`);
    expect(h.status).toBe(200);
    expect(h.body).toBeNull();
    expect(h.headers.get("content-md5")).toBe(expectedChecksum(seedStatus({ id: sim.id })));
    expect(h.headers.get("etag")).toBe(`"${h.headers.get("content-md5")}"`);
    const g = await get(`/minions/${sim.id}`);
    expect(g.headers.get("content-md5")).toBe(h.headers.get("content-md5"));
    expect(Object.keys(g.body)).toEqual(Object.keys(sim.status));
    sim.close();
  });

  it("an agent status without id gets id appended, and the checksum covers it", async () => {
    const a = await registerAgent();
    const { id: _, ...noId } = seedStatus();
    const sim = await connectAgent(a, { status: noId });
    await waitFor(() => present(a.id));
    const g = await get(`/minions/${a.id}`);
    expect(Object.keys(g.body).at(-1)).toBe("id");
    expect(g.body.id).toBe(a.id);
    expect(g.headers.get("content-md5")).toBe(expectedChecksum({ ...noId, id: a.id }));
    sim.close();
  });

  it("unknown id: 404 with an empty body on HEAD, the envelope on GET; a malformed id is 400", async () => {
    const unknown = crypto.randomUUID();
    const h = await head(`/minions/${unknown}`);
    expect(h.status).toBe(404);
    expect(h.body).toBeNull();
    const g = await get(`/minions/${unknown}`);
    expect(g.status).toBe(404);
    expect(g.body).toEqual({ error: "no such minion", code: "not_found" });
    expect((await get("/minions/nope")).status).toBe(400);
  });

  it("os-only change: neither checksum changes and no changed event is emitted (monitor tick via the alarm)", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const mine = await minionSum(sim.id);
    const fleet = await fleetSum();
    const polls = sim.relays().length;
    sim.status = { ...sim.status, os: { ...sim.status.os, uptime: 12345.6, loadavg: [0.5, 0.4, 0.3], freemem: 1 } };
    expect(await tick(sim.id)).toBe(true);
    expect(sim.relays().length).toBe(polls + 1);
    expect(await minionSum(sim.id)).toBe(mine);
    expect(await fleetSum()).toBe(fleet);
    expect(await eventsOf(sim.id)).toEqual(["minion.joined"]);
    sim.close();
  });

  it("package change: the minion's and the fleet's checksums change within one monitor tick; a changed event is recorded", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const mine = await minionSum(sim.id);
    const fleet = await fleetSum();
    const next = structuredClone(sim.status);
    next.packages.push({ name: "tcpdump", version: "4.9.3", source: "apt", type: "dpkg", status: { installed: true } });
    sim.status = next;
    expect(await tick(sim.id)).toBe(true);
    const after = await minionSum(sim.id);
    expect(after).toBe(expectedChecksum(next));
    expect(after).not.toBe(mine);
    expect(await fleetSum()).not.toBe(fleet);
    expect((await get(`/minions/${sim.id}`)).body.packages.at(-1).name).toBe("tcpdump");
    expect(await eventsOf(sim.id)).toEqual(["minion.joined", "minion.changed"]);
    sim.close();
  });

  it("membership: a join and a leave change HEAD /minions; the fleet checksum equals the spec's digest of all minions", async () => {
    const before = await fleetSum();
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const joined = await fleetSum();
    expect(joined).not.toBe(before);
    const list = (await get("/minions")).body as Record<string, any>[];
    const expected = fleetDigestOf(list.map((s) => ({ id: s.id, checksum: expectedChecksum(s) })));
    expect(joined).toBe(expected);
    sim.close();
    await waitFor(async () => !(await present(sim.id)), 3000, "the minion to leave");
    expect(await fleetSum()).toBe(before);
    expect(await eventsOf(sim.id)).toEqual(["minion.joined", "minion.left"]);
  });

  it("GET and HEAD agree; HEAD has no body; If-None-Match gives 304; X-Minion-Count and the buckets view match", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const g = await get("/minions");
    const h = await head("/minions");
    expect(h.body).toBeNull();
    expect(h.headers.get("content-md5")).toBe(g.headers.get("content-md5"));
    expect(h.headers.get("etag")).toBe(g.headers.get("etag"));
    expect(Number(h.headers.get("x-minion-count"))).toBe(g.body.length);
    const etag = g.headers.get("etag")!;
    const nm = await get("/minions", { "if-none-match": etag });
    expect(nm.status).toBe(304);
    expect(nm.body).toBeNull();
    expect((await head("/minions", { "if-none-match": etag })).status).toBe(304);
    expect((await head("/minions", { "if-none-match": '"0000"' })).status).toBe(200);
    const one = await head(`/minions/${sim.id}`);
    expect((await get(`/minions/${sim.id}`, { "if-none-match": one.headers.get("etag")! })).status).toBe(304);
    const b = await get("/minions/buckets");
    expect(b.body.checksum).toBe(g.headers.get("content-md5"));
    expect(b.body.count).toBe(g.body.length);
    expect(b.body.buckets.map((x: any) => x.bucket)).toEqual([...b.body.buckets.map((x: any) => x.bucket)].sort());
    const mine = b.body.buckets.find((x: any) => x.bucket === md5Hex(sim.id).slice(0, 2));
    const members = await get(`/minions/buckets/${mine.bucket}`);
    expect(members.body.digest).toBe(mine.digest);
    expect(members.body.minions.map((m: any) => m.id)).toContain(sim.id);
    sim.close();
  });

  it("beacon expiry: no beacon for beaconValidity closes the socket, removes the minion and changes the fleet checksum; a reconnect restores it", async () => {
    const a = await registerAgent();
    const before = await fleetSum();
    const sim = await connectAgent(a);
    await waitFor(() => present(a.id));
    const withIt = await fleetSum();
    // 46 s without a beacon: move the last beacon (and connection time) back instead of waiting.
    await runInDurableObject(agentStub(a.id), async (_obj, state) => {
      const s = (await state.storage.get<any>("agent"))!;
      await state.storage.put("agent", { ...s, connectedAt: s.connectedAt - 46_000, lastBeaconAt: s.lastBeaconAt - 46_000 });
    });
    expect(await tick(a.id)).toBe(true);
    await waitFor(() => sim.closed, 3000, "the socket to close");
    expect(await present(a.id)).toBe(false);
    expect(await fleetSum()).toBe(before);
    expect(await fleetSum()).not.toBe(withIt);
    const left = await env.DB.prepare("SELECT data FROM events WHERE subject_kind = 'minion' AND subject_id = ? AND type = 'minion.left'")
      .bind(a.id)
      .first<{ data: string }>();
    expect(JSON.parse(left!.data).reason).toBe("expired");
    const again = await connectAgent(a);
    // Its hello came within MONITOR_INTERVAL_MS / N of the first one: the poll is the alarm's (hello polls are throttled).
    expect(await tick(a.id)).toBe(true);
    await waitFor(() => present(a.id));
    expect(await fleetSum()).toBe(withIt);
    expect(await eventsOf(a.id)).toEqual(["minion.joined", "minion.left", "minion.joined"]);
    again.close();
  });

  it("beacons keep a minion alive past beaconValidity (runtime auto-response and handled beacons alike)", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    await runInDurableObject(agentStub(sim.id), async (_obj, state) => {
      const s = (await state.storage.get<any>("agent"))!;
      await state.storage.put("agent", { ...s, connectedAt: s.connectedAt - 46_000, lastBeaconAt: s.lastBeaconAt - 46_000 });
    });
    sim.send('{"type":"beacon"}'); // canonical: answered by the runtime without waking the object
    await waitFor(() => sim.frames.some((f) => f.type === "beacon:reply"));
    expect(await tick(sim.id)).toBe(true);
    expect(sim.closed).toBe(false);
    expect(await present(sim.id)).toBe(true);
    sim.close();
  });

  it("failed status fetch (timeout, HTTP 500, agent error, bad JSON): the minion stays with its last status", async () => {
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    const sum = await minionSum(sim.id);
    for (const mode of ["silent", "http500", "error", "badjson"] as const) {
      sim.mode = mode;
      sim.status = seedStatus({ id: sim.id, packages: [] });
      expect(await tick(sim.id)).toBe(true);
      expect(await minionSum(sim.id)).toBe(sum);
    }
    sim.mode = "answer";
    const failures = await runInDurableObject(agentStub(sim.id), async (_o, state) => (await state.storage.get<any>("agent")).failures);
    expect(failures).toBe(4);
    expect((await get(`/minions/${sim.id}`)).body.packages.length).toBeGreaterThan(0);
    expect(await eventsOf(sim.id)).toEqual(["minion.joined"]);
    // The next good poll brings the change and clears the failure count.
    expect(await tick(sim.id)).toBe(true);
    expect((await get(`/minions/${sim.id}`)).body.packages).toEqual([]);
    sim.close();
  });

  it("a second connection replaces the first without the minion leaving", async () => {
    const a = await registerAgent();
    const first = await connectAgent(a);
    await waitFor(() => present(a.id));
    const second = await connectAgent(a);
    await waitFor(() => first.closed, 3000, "the old socket to close");
    expect(await present(a.id)).toBe(true);
    expect(await eventsOf(a.id)).toEqual(["minion.joined"]);
    second.close();
    await waitFor(async () => !(await present(a.id)));
  });

  it("change feed: GET /minions carries a cursor; ?since=<cursor> lists ids changed after it; bad cursors are 400", async () => {
    const g = await get("/minions");
    const cursor = g.headers.get("x-minions-cursor")!;
    expect(cursor).toBeTruthy();
    const empty = await get(`/minions?since=${cursor}`);
    expect(empty.body).toEqual({ changes: [], ids: [], next_cursor: cursor, more: false });
    const sim = await connectAgent();
    await waitFor(() => present(sim.id));
    sim.status = seedStatus({ id: sim.id, packages: [] });
    await tick(sim.id);
    const feed = await get(`/minions?since=${cursor}`);
    expect(feed.status).toBe(200);
    expect(feed.body.ids).toEqual([sim.id]);
    expect(feed.body.changes.map((c: any) => c.type)).toEqual(["joined", "changed"]);
    expect(feed.body.changes[1].checksum).toBe(await minionSum(sim.id));
    const page = await get(`/minions?since=${cursor}&limit=1`);
    expect(page.body.more).toBe(true);
    const rest = await get(`/minions?since=${page.body.next_cursor}`);
    expect(rest.body.changes.map((c: any) => c.type)).toEqual(["changed"]);
    expect((await get(`/minions?since=0`)).body.changes.length).toBeGreaterThan(2);
    expect((await get("/minions?since=garbage")).status).toBe(400);
    sim.close();
  });
});
